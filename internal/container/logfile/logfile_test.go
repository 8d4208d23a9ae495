package logfile

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type stopped struct{}

func (stopped) Running() bool          { return false }
func (stopped) Refresh() (bool, error) { return false, nil }

func TestStreamSplitsLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	w, err := Open(p)
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
