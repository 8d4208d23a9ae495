package progress

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// clock advances by one second each time it is read.
func clock() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestPlainForm(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Plain, clock())
	a := p.Start("[1/3] FROM busybox")
	a.Cached()
	b := p.Start("[2/3] RUN echo hi")
	b.Note("cache miss: parent changed")
	w := NewLineWriter(b)
	w.Write([]byte("hi\r\npartial"))
	w.Flush()
	b.Finish(nil)
	c := p.Start("[3/3] RUN false")
	c.Finish(errors.New("exit code: 1"))
	p.Warn("[Warning] done")
	p.Close()
	want := "#1 [1/3] FROM busybox\n#1 CACHED\n\n" +
		"#2 [2/3] RUN echo hi\n#2 cache miss: parent changed\n#2 1.000 hi\n#2 2.000 partial\n#2 DONE 3.0s\n\n" +
		"#3 [3/3] RUN false\n#3 ERROR: exit code: 1\n\n" +
		"[Warning] done\n"
	if out.String() != want {
		t.Errorf("plain output:\n%q\nwant\n%q", out.String(), want)
	}
	if got := w.Tail(); len(got) != 2 || got[0] != "hi" || got[1] != "partial" {
		t.Errorf("tail = %q", got)
	}
}

func TestQuietPrintsNothing(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Quiet, clock())
	v := p.Start("x")
	v.Log("line")
	v.Finish(nil)
	p.Warn("w")
	p.Close()
	if out.Len() != 0 {
		t.Errorf("quiet wrote %q", out.String())
	}
}

func TestTailKeepsTenLines(t *testing.T) {
	p := New(nil, Plain, clock())
	w := NewLineWriter(p.Start("x"))
	for i := range 12 {
		w.Write([]byte{byte('a' + i), '\n'})
	}
	if got := w.Tail(); len(got) != 10 || got[0] != "c" || got[9] != "l" {
		t.Errorf("tail = %q", got)
	}
}

// An observer sees every event, in order, with the vertex's fields; a
// quiet printer still tells it.
func TestObserver(t *testing.T) {
	var got []string
	p := New(nil, Quiet, clock())
	p.Observe(func(e Event) {
		s := fmt.Sprintf("%d %s", e.Vertex, e.Name)
		switch {
		case e.Log != "":
			s += " log=" + e.Log
		case !e.Completed.IsZero():
			s += fmt.Sprintf(" done cached=%v err=%v", e.Cached, e.Err)
		default:
			s += " start"
		}
		got = append(got, s)
	})
	a := p.Start("FROM busybox")
	a.Cached()
	b := p.Start("RUN x")
	w := NewLineWriter(b)
	w.Write([]byte("out\n"))
	b.Finish(errors.New("boom"))
	p.Warn("careful")
	want := []string{"1 FROM busybox start", "1 FROM busybox done cached=true err=<nil>",
		"2 RUN x start", "2 RUN x log=out", "2 RUN x done cached=false err=boom", "0  log=careful"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events:\n%q\nwant\n%q", got, want)
	}
}
