package logfile

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hoistproject/hoist/internal/fsutil"
)

// TimeFormat is docker's json-file timestamp format.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Entry is one line of a json-file log.
type Entry struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// maxLine is the longest partial line kept before it is written as an
// entry of its own.
const maxLine = 16 * 1024

// Rotation is docker's json-file --log-opt max-size and max-file: when
// the log would grow past MaxSize bytes it is renamed PATH.1 (PATH.1 to
// PATH.2, ...) and a new one started, keeping MaxFiles files in all.
// MaxSize 0: one file that grows without bound.
type Rotation struct {
	MaxSize  int64
	MaxFiles int
}

// Writer appends entries to a log file; it is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	path string
	rot  Rotation
	f    *os.File
	size int64
}

// Open opens (creating it if needed) the log file at path for appending.
func Open(path string, rot Rotation) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, rot: rot, f: f}
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size()
	}
	return w, nil
}

// Write appends one entry of stream ("stdout" or "stderr") holding p,
// stamped with the current time.
func (w *Writer) Write(stream string, p []byte) {
	b, _ := json.Marshal(Entry{Log: string(p), Stream: stream, Time: time.Now().UTC().Format(TimeFormat)})
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rot.MaxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.rot.MaxSize {
		w.rotate()
	}
	n, _ := w.f.Write(b)
	w.size += int64(n)
}

// rotate shifts PATH.k to PATH.k+1 (dropping the oldest) and PATH to
// PATH.1, and starts a new PATH. On failure it keeps appending where it is.
func (w *Writer) rotate() {
	keep := max(w.rot.MaxFiles, 1)
	os.Remove(fsutil.Rotated(w.path, keep-1))
	for i := keep - 2; i >= 1; i-- {
		os.Rename(fsutil.Rotated(w.path, i), fsutil.Rotated(w.path, i+1))
	}
	if keep > 1 {
		if os.Rename(w.path, fsutil.Rotated(w.path, 1)) != nil {
			return
		}
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o640)
	if err != nil {
		return
	}
	w.f.Close()
	w.f, w.size = f, 0
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// Stream returns a writer that splits a process's output on stream into
// entries, one per line. Flush writes what is left at the end.
func (w *Writer) Stream(stream string) *Stream { return &Stream{w: w, name: stream} }

// Stream is one output stream of a process being logged (Writer.Stream).
type Stream struct {
	w       *Writer
	name    string
	partial []byte
}

// Write logs every complete line of what was written so far; a partial
// line longer than 16 KiB is logged as it is.
func (s *Stream) Write(p []byte) (int, error) {
	s.partial = append(s.partial, p...)
	for {
		i := strings.IndexByte(string(s.partial), '\n')
		if i < 0 {
			break
		}
		s.w.Write(s.name, s.partial[:i+1])
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > maxLine {
		s.w.Write(s.name, s.partial)
		s.partial = nil
	}
	return len(p), nil
}

// Flush logs the last, unterminated line if any.
func (s *Stream) Flush() {
	if len(s.partial) > 0 {
		s.w.Write(s.name, s.partial)
		s.partial = nil
	}
}
