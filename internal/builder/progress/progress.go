package progress

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// The modes of `build --progress`.
const (
	Plain = "plain" // BuildKit's plain form, one line per event
	TTY   = "tty"   // a live view rewritten in place
	Quiet = "quiet" // nothing
)

// Vertex is one step of the build as shown: "#N name".
type Vertex struct {
	p       *Printer
	n       int
	name    string
	started time.Time
	cached  bool
	done    bool
	err     error
	logs    int
}

// Event is one change of the build as a front-end sees it, for those that
// show progress their own way (BuildKit's Status stream of the Engine
// API's /grpc): a vertex started, logged a line, was cached or finished,
// or a warning outside any vertex (Vertex 0).
type Event struct {
	Vertex    int    // the vertex's number, 1 up; 0 for a warning
	Name      string // the vertex's name ("[stage 2/3] RUN make")
	Started   time.Time
	Completed time.Time // zero while the vertex runs
	Cached    bool
	Err       error
	Log       string // one output line of the vertex, or the warning
	Time      time.Time
}

// Observer receives every Event of a Printer, in order, with the
// Printer's lock held: it must not call back into the Printer.
type Observer func(Event)

// Printer renders events in BuildKit's plain form (one line per event, a
// blank line between vertices) or, on a terminal, as a compact live view
// rewritten in place.
type Printer struct {
	mu    sync.Mutex
	w     io.Writer
	mode  string
	next  int
	now   func() time.Time
	obs   Observer
	open  []*Vertex // tty: vertices shown in the live area
	lines int       // tty: lines of the live area currently on screen
}

// New returns a Printer writing to w in mode (nil w or Quiet: nothing),
// timing with now.
func New(w io.Writer, mode string, now func() time.Time) *Printer {
	if w == nil || mode == Quiet {
		w = io.Discard
	}
	return &Printer{w: w, mode: mode, now: now}
}

// Observe makes o receive every later event (nil: none).
func (p *Printer) Observe(o Observer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.obs = o
}

// emit tells the observer (called with p.mu held); completed marks the
// vertex's end. The clock is read only when there is an observer.
func (p *Printer) emit(v *Vertex, e Event, completed bool) {
	if p.obs == nil {
		return
	}
	e.Time = p.now()
	if completed {
		e.Completed = e.Time
	}
	if v != nil {
		e.Vertex, e.Name, e.Started, e.Cached, e.Err = v.n, v.name, v.started, v.cached, v.err
	}
	p.obs(e)
}

// Start begins a vertex (a step) named name and numbers it.
func (p *Printer) Start(name string) *Vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	v := &Vertex{p: p, n: p.next, name: name, started: p.now()}
	p.emit(v, Event{}, false)
	if p.mode == TTY {
		p.open = append(p.open, v)
		p.redraw()
		return v
	}
	fmt.Fprintf(p.w, "#%d %s\n", v.n, name)
	return v
}

// Warn prints a line outside any vertex.
func (p *Printer) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emit(nil, Event{Log: msg}, false)
	p.clearLive()
	fmt.Fprintln(p.w, msg)
	p.redraw()
}

// Close prints what the live view still shows (tty).
func (p *Printer) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == TTY {
		p.clearLive()
		for _, v := range p.open {
			p.finalLine(v)
		}
		p.open = nil
	}
}

// Cached marks v as a cache hit and finishes it.
func (v *Vertex) Cached() {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	v.cached, v.done = true, true
	p.emit(v, Event{}, true)
	if p.mode == TTY {
		p.settle()
		return
	}
	fmt.Fprintf(p.w, "#%d CACHED\n\n", v.n)
}

// Note prints an informational line for v (e.g. the cache miss reason).
func (v *Vertex) Note(msg string) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == TTY {
		return
	}
	fmt.Fprintf(p.w, "#%d %s\n", v.n, msg)
}

// Log prints output lines of a step with their time offset.
func (v *Vertex) Log(line string) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	v.logs++
	p.emit(v, Event{Log: line}, false)
	el := p.now().Sub(v.started).Seconds()
	if p.mode == TTY {
		p.clearLive()
		fmt.Fprintf(p.w, "#%d %.3f %s\n", v.n, el, line)
		p.redraw()
		return
	}
	fmt.Fprintf(p.w, "#%d %.3f %s\n", v.n, el, line)
}

// Finish ends v successfully (err nil) or with an error.
func (v *Vertex) Finish(err error) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	v.done, v.err = true, err
	p.emit(v, Event{}, true)
	if p.mode == TTY {
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

func (p *Printer) clearLive() {
	if p.mode != TTY || p.lines == 0 {
		return
	}
	fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.lines)
	p.lines = 0
}

// settle moves finished vertices at the head of the live area out of it.
func (p *Printer) settle() {
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

func (p *Printer) finalLine(v *Vertex) {
	switch {
	case v.cached:
		fmt.Fprintf(p.w, " => CACHED %s\n", v.name)
	case v.err != nil:
		fmt.Fprintf(p.w, " => ERROR %s\n", v.name)
	default:
		fmt.Fprintf(p.w, " => %-60s %5.1fs\n", v.name, p.now().Sub(v.started).Seconds())
	}
}

func (p *Printer) redraw() {
	if p.mode != TTY {
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

// LineWriter splits a step's output into lines for its vertex.
type LineWriter struct {
	v   *Vertex
	buf []byte
	// tail keeps the last lines for the error message of a failed step.
	tail []string
}

// NewLineWriter returns a LineWriter logging to v.
func NewLineWriter(v *Vertex) *LineWriter { return &LineWriter{v: v} }

// Tail is the last lines written (at most 10), for the message of a
// failed step.
func (w *LineWriter) Tail() []string { return w.tail }

func (w *LineWriter) Write(b []byte) (int, error) {
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

func (w *LineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	w.v.Log(line)
	w.tail = append(w.tail, line)
	if len(w.tail) > 10 {
		w.tail = w.tail[1:]
	}
}

// Flush logs a last line without its newline.
func (w *LineWriter) Flush() {
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}
