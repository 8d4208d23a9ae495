package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress modes of `build --progress`.
const (
	ProgressPlain = "plain"
	ProgressTTY   = "tty"
	ProgressQuiet = "quiet"
)

// progress receives the events of a build. Vertex numbers are allocated by
// the printer in the order steps start, as BuildKit's "#N".
type progress interface {
	start(name string) *vertex
	warn(msg string)
	close()
}

type vertex struct {
	p       *printer
	n       int
	name    string
	started time.Time
	cached  bool
	done    bool
	err     error
	logs    int
}

// printer renders events in BuildKit's plain form (one line per event, a
// blank line between vertices) or, on a terminal, as a compact live view
// rewritten in place.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	mode  string
	next  int
	now   func() time.Time
	open  []*vertex // tty: vertices shown in the live area
	lines int       // tty: lines of the live area currently on screen
}

func newPrinter(w io.Writer, mode string, now func() time.Time) *printer {
	if w == nil || mode == ProgressQuiet {
		w = io.Discard
	}
	return &printer{w: w, mode: mode, now: now}
}

func (p *printer) start(name string) *vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	v := &vertex{p: p, n: p.next, name: name, started: p.now()}
	if p.mode == ProgressTTY {
		p.open = append(p.open, v)
		p.redraw()
		return v
	}
	fmt.Fprintf(p.w, "#%d %s\n", v.n, name)
	return v
}

func (p *printer) warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLive()
	fmt.Fprintln(p.w, msg)
	p.redraw()
}

func (p *printer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == ProgressTTY {
		p.clearLive()
		for _, v := range p.open {
			p.finalLine(v)
		}
		p.open = nil
	}
}

// markCached marks v as a cache hit and finishes it.
func (v *vertex) markCached() {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	v.cached, v.done = true, true
	if p.mode == ProgressTTY {
		p.settle()
		return
	}
	fmt.Fprintf(p.w, "#%d CACHED\n\n", v.n)
}

// note prints an informational line for v (e.g. the cache miss reason).
func (v *vertex) note(msg string) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == ProgressTTY {
		return
	}
	fmt.Fprintf(p.w, "#%d %s\n", v.n, msg)
}

// log prints output lines of a step with their time offset.
func (v *vertex) log(line string) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	v.logs++
	el := p.now().Sub(v.started).Seconds()
	if p.mode == ProgressTTY {
		p.clearLive()
		fmt.Fprintf(p.w, "#%d %.3f %s\n", v.n, el, line)
		p.redraw()
		return
	}
	fmt.Fprintf(p.w, "#%d %.3f %s\n", v.n, el, line)
}

// finish ends v successfully (err nil) or with an error.
func (v *vertex) finish(err error) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	v.done, v.err = true, err
	if p.mode == ProgressTTY {
		p.settle()
		return
	}
	d := p.now().Sub(v.started).Seconds()
	if err != nil {
		fmt.Fprintf(p.w, "#%d ERROR: %v\n\n", v.n, err)
		return
	}
	fmt.Fprintf(p.w, "#%d DONE %.1fs\n\n", v.n, d)
}

// tty helpers (called with p.mu held).

func (p *printer) clearLive() {
	if p.mode != ProgressTTY || p.lines == 0 {
		return
	}
	fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.lines)
	p.lines = 0
}

// settle moves finished vertices at the head of the live area out of it.
func (p *printer) settle() {
	p.clearLive()
	keep := p.open[:0]
	for _, v := range p.open {
		if v.done {
			p.finalLine(v)
			continue
		}
		keep = append(keep, v)
	}
	p.open = keep
	p.redraw()
}

func (p *printer) finalLine(v *vertex) {
	switch {
	case v.cached:
		fmt.Fprintf(p.w, " => CACHED %s\n", v.name)
	case v.err != nil:
		fmt.Fprintf(p.w, " => ERROR %s\n", v.name)
	default:
		fmt.Fprintf(p.w, " => %-60s %5.1fs\n", v.name, p.now().Sub(v.started).Seconds())
	}
}

func (p *printer) redraw() {
	if p.mode != ProgressTTY {
		return
	}
	var b bytes.Buffer
	for _, v := range p.open {
		fmt.Fprintf(&b, " => %-60s %5.1fs\n", trim(v.name, 60), p.now().Sub(v.started).Seconds())
	}
	p.lines = len(p.open)
	_, _ = p.w.Write(b.Bytes())
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// lineWriter splits a step's output into lines for its vertex.
type lineWriter struct {
	v   *vertex
	buf []byte
	// tail keeps the last lines for the error message of a failed step.
	tail []string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

func (w *lineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	w.v.log(line)
	w.tail = append(w.tail, line)
	if len(w.tail) > 10 {
		w.tail = w.tail[1:]
	}
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}
