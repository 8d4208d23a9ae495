package logfile

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/hoistproject/hoist/internal/fsutil"
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
	// The rotated files first (their lines count for --tail too).
	for _, old := range fsutil.RotatedFiles(path) {
		fsutil.FileLines(old, keep)
	}
	lf := fsutil.FollowLines(path, f)
	defer lf.Close()
	lf.Lines(keep)
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
		lf.Lines(keep)
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
