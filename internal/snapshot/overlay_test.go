package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/hoistproject/hoist/internal/mount"
)

func TestLayerCountLimit(t *testing.T) {
	stack := func(n int) []string { return make([]string, n) }
	if _, err := Mount(mount.KernelOverlay, stack(MaxLayers), "u", "w"); err != nil {
		t.Errorf("%d layers refused: %v", MaxLayers, err)
	}
	_, err := Mount(mount.KernelOverlay, stack(MaxLayers+1), "", "")
	if err == nil || !strings.Contains(err.Error(), "501 layers") || !strings.Contains(err.Error(), "at most 500") {
		t.Errorf("err = %v", err)
	}
}

func newOverlay(t *testing.T) *Overlay {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	root := t.TempDir()
	t.Cleanup(func() {
		mps, _ := mount.MountPoints(root)
		for i := len(mps) - 1; i >= 0; i-- {
			mount.UnmountAll(mps[i])
		}
		if len(mps) > 0 {
			t.Errorf("leaked mounts: %v", mps)
		}
	})
	cs, err := content.NewLocal(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := layers.New(root, metadata.Open(root), cs)
	if err != nil {
		t.Fatal(err)
	}
	return &Overlay{Layers: ls, Dir: filepath.Join(root, "build", "tmp")}
}

// step prepares a snapshot on parent, lets change edit its root and commits.
func step(t *testing.T, o *Overlay, parent Layer, change func(root string)) (Layer, bool) {
	t.Helper()
	ctx := context.Background()
	s, err := o.Prepare(ctx, parent.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release(ctx)
	change(s.Root())
	l, empty, err := s.Commit(ctx, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l, empty
}

func readTree(t *testing.T, o *Overlay, l Layer) map[string]string {
	t.Helper()
	dir, release, err := o.View(context.Background(), l.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	got := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		got[e.Name()] = string(b)
	}
	return got
}

// TestOverlayCommitViewSquash: steps commit their changes as layers (an
// unchanged snapshot commits nothing), View shows a chain's tree, Squash
// merges the layers above a base (a file added and deleted above it is
// absent), and nothing stays mounted or on disk.
func TestOverlayCommitViewSquash(t *testing.T) {
	o := newOverlay(t)
	write := func(name, data string) func(string) {
		return func(root string) {
			if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	l1, empty := step(t, o, Layer{}, write("a", "1"))
	if empty || l1.ChainID == "" || l1.DiffID != l1.ChainID {
		t.Fatalf("first layer: %+v empty=%v", l1, empty)
	}
	if _, empty := step(t, o, l1, func(string) {}); !empty {
		t.Error("an unchanged snapshot committed a layer")
	}
	l2, _ := step(t, o, l1, write("tmp", "x"))
	l3, _ := step(t, o, l2, func(root string) {
		os.Remove(filepath.Join(root, "tmp"))
		write("b", "2")(root)
	})
	if got := readTree(t, o, l3); len(got) != 2 || got["a"] != "1" || got["b"] != "2" {
		t.Errorf("view of 3 layers: %v", got)
	}
	sq, err := o.Squash(context.Background(), l1.ChainID, l3.ChainID, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, o, sq); len(got) != 2 || got["a"] != "1" || got["b"] != "2" {
		t.Errorf("view of the squashed chain: %v", got)
	}
	lowers, err := o.Layers.LowerDirs(context.Background(), sq.ChainID)
	if err != nil || len(lowers) != 2 {
		t.Fatalf("squashed chain lowers: %v %v", lowers, err)
	}
	if b, err := os.ReadFile(filepath.Join(lowers[0], "b")); err != nil || string(b) != "2" {
		t.Errorf("the squashed layer lacks b: %q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(lowers[0], "tmp")); err == nil {
		t.Error("the squashed layer holds a file added and deleted above the base")
	}
	ents, _ := os.ReadDir(filepath.Join(o.Dir, strconv.Itoa(os.Getpid())))
	if len(ents) != 0 {
		t.Errorf("snapshots left behind: %v", ents)
	}
}

// TestCleanupStale: the area of a dead process goes (unmounted first),
// this process's stays.
func TestCleanupStale(t *testing.T) {
	o := newOverlay(t)
	s, err := o.Prepare(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release(context.Background())
	// A dead builder's area with a live mount in it.
	dead := filepath.Join(o.Dir, "999999999", "snap-x")
	if err := os.MkdirAll(filepath.Join(dead, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mount.Overlay(mount.KernelOverlay, []string{filepath.Dir(s.Root())}, "", "").Mount(filepath.Join(dead, "rootfs")); err != nil {
		t.Fatal(err)
	}
	if n := CleanupStale(o.Dir); n != 1 {
		t.Errorf("CleanupStale removed %d areas, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "999999999")); !os.IsNotExist(err) {
		t.Errorf("dead area still there: %v", err)
	}
	if _, err := os.Stat(s.Root()); err != nil {
		t.Errorf("this process's snapshot was removed: %v", err)
	}
}
