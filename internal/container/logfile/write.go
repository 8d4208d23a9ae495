package logfile

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"time"
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

// Writer appends entries to a log file; it is safe for concurrent use.
type Writer struct {
	mu sync.Mutex
	f  *os.File
}

// Open opens (creating it if needed) the log file at path for appending.
func Open(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &Writer{f: f}, nil
}

// Write appends one entry of stream ("stdout" or "stderr") holding p,
// stamped with the current time.
func (w *Writer) Write(stream string, p []byte) {
	b, _ := json.Marshal(Entry{Log: string(p), Stream: stream, Time: time.Now().UTC().Format(TimeFormat)})
	w.mu.Lock()
	w.f.Write(append(b, '\n'))
	w.mu.Unlock()
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
