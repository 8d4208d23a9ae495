package builder

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/builder/cache"
)

// TestIntegrationPrune: builder prune removes only the dangling cache (the
// records whose layers no image uses) unless All; KeepDuration keeps what
// is newer; KeepStorage removes the oldest first until the rest fits.
func TestIntegrationPrune(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	dir := filepath.Join(e.root, "build")
	build := func(df, tag string) built {
		t.Helper()
		r, _ := e.build(t, df, "", Options{Tags: []string{tag}})
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.out)
		}
		return r
	}
	cachedSteps := func(df string) int {
		t.Helper()
		r, _ := e.build(t, df, "", Options{})
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.out)
		}
		return strings.Count(r.out, "CACHED")
	}
	// The layers of a stage the image does not include are the cache's
	// alone (dangling); the image's own steps are shared with it.
	kept := "FROM busybox\nRUN echo kept > /kept\n"
	old := "FROM busybox AS s\nRUN head -c 300000 /dev/urandom > /big && echo old > /small\nFROM busybox\nCOPY --from=s /small /small\n"
	young := strings.ReplaceAll(old, "echo old", "echo young")
	build(kept, "keep")
	build(old, "old")
	build(young, "young")

	// Newer than the duration: nothing goes.
	rep, err := cache.Prune(ctx, e.st, dir, cache.PruneOptions{KeepDuration: time.Hour})
	if err != nil || rep.Records != 0 || rep.SpaceReclaimed != 0 {
		t.Fatalf("until=1h removed %+v, %v", rep, err)
	}
	// KeepStorage: the oldest dangling record goes first, the rest fits.
	rep, err = cache.Prune(ctx, e.st, dir, cache.PruneOptions{KeepStorage: 400000})
	if err != nil || rep.Records != 1 || rep.SpaceReclaimed < 300000 {
		t.Fatalf("keep-storage removed %+v, %v", rep, err)
	}
	if cachedSteps(old) != 0 || cachedSteps(young) != 2 {
		t.Errorf("keep-storage removed the newer record, not the older")
	}
	// Dangling only: the images' cache stays.
	rep, err = cache.Prune(ctx, e.st, dir, cache.PruneOptions{})
	if err != nil || rep.Records == 0 || len(rep.Deleted) != rep.Records || rep.SpaceReclaimed < 600000 {
		t.Fatalf("prune: %+v, %v", rep, err)
	}
	if cachedSteps(kept) != 1 {
		t.Errorf("prune without All removed the cache of a tagged image")
	}
	// Later than the duration (a clock two hours on): everything with All.
	rep, err = cache.Prune(ctx, e.st, dir, cache.PruneOptions{All: true, KeepDuration: time.Hour, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err != nil || rep.Records == 0 {
		t.Fatalf("prune -a: %+v, %v", rep, err)
	}
	if cachedSteps(kept) != 0 {
		t.Errorf("prune -a kept records")
	}
}
