package logfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"time"
)

// Options select what Copy prints (docker logs flags).
type Options struct {
	Follow     bool
	Tail       int // < 0: all
	Timestamps bool
	// Details prints each entry's extra attributes before it (docker's
	// --details); hoist's log entries have none, so that is "" and a space.
	Details bool
	Since   time.Time
	Until   time.Time
}

// Source is the state of a log's writer, which Copy consults when it
// follows the log.
type Source interface {
	// Running reports whether the writer may still write.
	Running() bool
	// Refresh re-reads the writer's state; false when it is gone (Copy
	// then stops without an error).
	Refresh() (bool, error)
}

// Copy writes the log at path (after its rotated files, oldest first) to
// stdout and stderr (by each entry's stream; nil drops it), as `docker
// logs` prints it. With Follow it keeps reading until src stops running or
// ctx ends, following the log across rotations.
func Copy(ctx context.Context, path string, o Options, stdout, stderr io.Writer, src Source) error {
	f, err := os.Open(path)
	if err != nil {
		if !os.IsNotExist(err) {
			return err
		}
		if !o.Follow || !src.Running() {
			return nil
		}
		for f == nil {
			time.Sleep(50 * time.Millisecond)
			if f, err = os.Open(path); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	defer func() { f.Close() }()
	emit := func(line []byte) {
		var e Entry
		if json.Unmarshal(line, &e) != nil {
			return
		}
		t, _ := time.Parse(time.RFC3339Nano, e.Time)
		if !o.Since.IsZero() && t.Before(o.Since) {
			return
		}
		if !o.Until.IsZero() && t.After(o.Until) {
			return
		}
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if w == nil {
			return
		}
		if o.Timestamps {
			io.WriteString(w, e.Time+" ")
		}
		if o.Details {
			io.WriteString(w, " ")
		}
		io.WriteString(w, e.Log)
	}
	var lines [][]byte
	keep := func(line []byte) {
		lines = append(lines, line)
		if o.Tail >= 0 && len(lines) > o.Tail {
			lines = lines[1:]
		}
	}
	keepFile := func(name string) {
		if b, err := os.ReadFile(name); err == nil {
			for _, l := range bytes.SplitAfter(b, []byte("\n")) {
				if len(l) > 0 && l[len(l)-1] == '\n' {
					keep(l)
				}
			}
		}
	}
	// The rotated files first (their lines count for --tail too).
	for _, old := range rotatedFiles(path) {
		keepFile(old)
	}
	r := bufio.NewReaderSize(f, 64*1024)
	var pending []byte
	readAvail := func() {
		for {
			b, err := r.ReadBytes('\n')
			pending = append(pending, b...)
			if err != nil {
				return
			}
			keep(pending)
			pending = nil
		}
	}
	readAvail()
	for _, l := range lines {
		emit(l)
	}
	lines = nil
	if !o.Follow {
		return nil
	}
	o.Tail = -1
	for {
		running := src.Running()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		readAvail()
		if nf := reopenIfRotated(path, f); nf != nil {
			readAvail() // the rest of the old file, the files rotated since, the new one
			for _, missed := range newerRotated(path, f) {
				keepFile(missed)
			}
			f.Close()
			f, r, pending = nf, bufio.NewReaderSize(nf, 64*1024), nil
			readAvail()
		}
		for _, l := range lines {
			emit(l)
		}
		lines = nil
		if !running {
			return nil
		}
		if ok, err := src.Refresh(); !ok || err != nil {
			return err
		}
	}
}

// rotatedFiles are the rotated files of the log at path that exist,
// oldest first (PATH.N ... PATH.1).
func rotatedFiles(path string) []string {
	var out []string
	for i := 1; ; i++ {
		if _, err := os.Stat(rotated(path, i)); err != nil {
			break
		}
		out = append([]string{rotated(path, i)}, out...)
	}
	return out
}

// newerRotated lists, oldest first, the rotated files of path written after
// the one f has open (when the log rotated more than once between two
// reads). If f's file was rotated out altogether, every rotated file left
// is newer than it.
func newerRotated(path string, f *os.File) []string {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	all := rotatedFiles(path) // oldest first
	for i, name := range all {
		if st, err := os.Stat(name); err == nil && os.SameFile(fi, st) {
			return all[i+1:]
		}
	}
	return all
}

// reopenIfRotated opens path when it is no longer the file f has open (the
// writer rotated it); nil otherwise.
func reopenIfRotated(path string, f *os.File) *os.File {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || os.SameFile(a, b) {
		return nil
	}
	nf, err := os.Open(path)
	if err != nil {
		return nil
	}
	return nf
}
