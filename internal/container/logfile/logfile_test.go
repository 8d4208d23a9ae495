package logfile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hoistproject/hoist/internal/testutil"
)

type stopped struct{}

func (stopped) Running() bool          { return false }
func (stopped) Refresh() (bool, error) { return false, nil }

func TestStreamSplitsLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	w, err := Open(p, Rotation{})
	if err != nil {
		t.Fatal(err)
	}
	out, errs := w.Stream("stdout"), w.Stream("stderr")
	out.Write([]byte("one\ntw"))
	errs.Write([]byte("oops\n"))
	out.Write([]byte("o\nthree"))
	long := strings.Repeat("x", maxLine+1)
	errs.Write([]byte(long))
	out.Flush()
	errs.Flush()
	w.Close()
	b, _ := os.ReadFile(p)
	var got []Entry
	for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var e Entry
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if len(e.Time) != len("2006-01-02T15:04:05.000000000Z") {
			t.Errorf("time %q", e.Time)
		}
		got = append(got, e)
	}
	want := []Entry{{"one\n", "stdout", ""}, {"oops\n", "stderr", ""}, {"two\n", "stdout", ""}, {long, "stderr", ""}, {"three", "stdout", ""}}
	if len(got) != len(want) {
		t.Fatalf("got %d entries %+v", len(got), got)
	}
	for i := range want {
		if got[i].Log != want[i].Log || got[i].Stream != want[i].Stream {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	var so, se bytes.Buffer
	if err := Copy(context.Background(), p, Options{Tail: -1}, &so, &se, stopped{}); err != nil {
		t.Fatal(err)
	}
	if so.String() != "one\ntwo\nthree" || se.String() != "oops\n"+long {
		t.Fatalf("copy: %q %q", so.String(), se.String())
	}
	so.Reset()
	Copy(context.Background(), p, Options{Tail: 2, Timestamps: true}, &so, nil, stopped{})
	if l := strings.Split(so.String(), " "); len(l) != 2 || l[1] != "three" || !strings.HasSuffix(l[0], "Z") {
		t.Fatalf("tail 2 with timestamps, stderr dropped: %q", so.String())
	}
	so.Reset()
	Copy(context.Background(), p, Options{Tail: 1, Timestamps: true, Details: true}, &so, nil, stopped{})
	if ts, rest, _ := strings.Cut(so.String(), " "); rest != " three" || !strings.HasSuffix(ts, "Z") {
		t.Fatalf("details (docker: empty attributes and a space): %q", so.String())
	}
	if err := Copy(context.Background(), filepath.Join(t.TempDir(), "none"), Options{Tail: -1, Follow: true}, &so, nil, stopped{}); err != nil {
		t.Fatalf("missing log of a stopped writer: %v", err)
	}
}

func TestRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	w, err := Open(p, Rotation{MaxSize: 300, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	out := w.Stream("stdout")
	for i := 0; i < 40; i++ {
		out.Write([]byte(fmt.Sprintf("line %02d\n", i)))
	}
	w.Close()
	for _, name := range []string{p, p + ".1", p + ".2"} {
		fi, err := os.Stat(name)
		if err != nil || fi.Size() > 300 {
			t.Fatalf("%s: %v (size over the limit?)", name, err)
		}
	}
	if _, err := os.Stat(p + ".3"); !os.IsNotExist(err) {
		t.Fatalf("more than max-file files: %v", err)
	}
	var so bytes.Buffer
	if err := Copy(context.Background(), p, Options{Tail: -1}, &so, nil, stopped{}); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(so.String(), "\n"), "\n")
	if len(got) < 6 || got[len(got)-1] != "line 39" {
		t.Fatalf("rotated logs read back: %q", got)
	}
	for i := 1; i < len(got); i++ { // oldest first, no gaps
		if got[i] <= got[i-1] {
			t.Fatalf("out of order at %d: %q", i, got)
		}
	}
	so.Reset()
	Copy(context.Background(), p, Options{Tail: 3}, &so, nil, stopped{})
	if so.String() != "line 37\nline 38\nline 39\n" {
		t.Fatalf("tail across files: %q", so.String())
	}
}

// running is a Source that runs until stop is closed.
type running struct{ stop chan struct{} }

func (r running) Running() bool {
	select {
	case <-r.stop:
		return false
	default:
		return true
	}
}
func (r running) Refresh() (bool, error) { return true, nil }

// followLines writes "line 00".."line 29" to a log rotated as rot while
// Copy follows it and returns what Copy printed. With stepwise, each line
// is written once Copy has printed the one before (a file lasts several of
// the reader's polls); otherwise all at once (several rotations within one
// poll).
func followLines(t *testing.T, rot Rotation, stepwise bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ctr.log")
	w, err := Open(p, rot)
	if err != nil {
		t.Fatal(err)
	}
	src := running{stop: make(chan struct{})}
	var so syncWriter
	done := make(chan error, 1)
	out := w.Stream("stdout")
	out.Write([]byte("line 00\n"))
	go func() { done <- Copy(context.Background(), p, Options{Tail: -1, Follow: true}, &so, nil, src) }()
	printed := func(n int) func() bool {
		return func() bool { return strings.Count(so.String(), "\n") >= n }
	}
	testutil.WaitFor(t, "the follower to read the first file", printed(1))
	for i := 1; i < 30; i++ {
		out.Write([]byte(fmt.Sprintf("line %02d\n", i)))
		if stepwise {
			testutil.WaitFor(t, fmt.Sprintf("the follower to print line %02d", i), printed(i+1))
		}
	}
	w.Close()
	testutil.WaitFor(t, "the follower to print every line", printed(30))
	close(src.stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return so.String()
}

func wantLines() string {
	var want strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&want, "line %02d\n", i)
	}
	return want.String()
}

// --follow keeps up across rotations: every line, once, in order.
func TestFollowAcrossRotation(t *testing.T) {
	got := followLines(t, Rotation{MaxSize: 800, MaxFiles: 2}, true)
	if got != wantLines() {
		t.Fatalf("followed:\n%s", got)
	}
}

// Rotations faster than --follow's polls lose nothing: the files rotated
// in between are read too.
func TestFollowAcrossFastRotations(t *testing.T) {
	got := followLines(t, Rotation{MaxSize: 300, MaxFiles: 10}, false)
	if got != wantLines() {
		t.Fatalf("followed:\n%s", got)
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
