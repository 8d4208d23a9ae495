package events

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/testutil"
)

func TestRecordReadFollowAndRotation(t *testing.T) {
	l := New(t.TempDir())
	var nilLog *Log
	nilLog.Record("container", "create", "x", nil) // no-op, no panic
	start := time.Now()
	l.Record("container", "create", "c1", map[string]string{"image": "busybox", "name": "one"})
	l.Record("volume", "create", "v1", nil)
	var got []string
	if err := l.Read(start, time.Time{}, func(ev Event) { got = append(got, ev.Type+" "+ev.Action+" "+ev.Actor.ID+" "+ev.From) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "container create c1 busybox|volume create v1 " {
		t.Fatalf("read: %q", got)
	}
	got = nil
	l.Read(time.Now().Add(time.Hour), time.Time{}, func(ev Event) { got = append(got, ev.Action) })
	if len(got) != 0 {
		t.Fatalf("since in the future: %q", got)
	}
	// a torn last line (a writer killed mid-write) is skipped
	f, _ := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"Type":"contai`)
	f.Close()
	got = nil
	l.Read(time.Time{}, time.Time{}, func(ev Event) { got = append(got, ev.Action) })
	if len(got) != 2 {
		t.Fatalf("torn line: %q", got)
	}
	os.WriteFile(l.Path, nil, 0o600)
	l.Record("image", "tag", "before", nil) // Follow starts past it

	// Follow sees new events, across a new generation of the file
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var followed []string
	done := make(chan struct{})
	go func() {
		l.Follow(ctx, time.Time{}, func(ev Event) { mu.Lock(); followed = append(followed, ev.Actor.ID); mu.Unlock() })
		close(done)
	}()
	seen := func(n int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return len(followed) >= n }
	}
	testutil.WaitFor(t, "the follower to open the log", func() bool { return testutil.OpenAtEnd(l.Path) })
	l.Record("image", "tag", "a", nil)
	testutil.WaitFor(t, "the follower to see a", seen(1))
	os.Rename(l.Path, l.Path+".1") // what Record does past maxSize
	l.Record("image", "tag", "b", nil)
	testutil.WaitFor(t, "the follower to see b in the new file", seen(2))
	// an event written just before a rotation is not lost with the old file
	l.Record("image", "tag", "c", nil)
	os.Rename(l.Path, l.Path+".1")
	l.Record("image", "tag", "d", nil)
	testutil.WaitFor(t, "the follower to see c and d", seen(4))
	cancel()
	<-done
	if strings.Join(followed, ",") != "a,b,c,d" {
		t.Fatalf("followed: %q", followed)
	}
	got = nil
	l.Read(time.Time{}, time.Time{}, func(ev Event) { got = append(got, ev.Actor.ID) })
	if strings.Join(got, ",") != "b,c,d" {
		t.Fatalf("read across generations: %q", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(l.Path), "events.log.1")); err != nil {
		t.Fatal(err)
	}
}
