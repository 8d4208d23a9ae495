package container

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"
)

// LogOptions select what Logs prints (docker logs flags).
type LogOptions struct {
	Follow     bool
	Tail       int // < 0: all
	Timestamps bool
	Since      time.Time
	Until      time.Time
}

// LogPath is the container's json-file log.
func (c *Container) LogPath() string { return filepath.Join(c.dir, "container-json.log") }

// Logs writes the container's logs to stdout and stderr (both to stdout for
// a tty container, as docker does). With Follow it keeps reading until the
// container stops or ctx ends.
func (m *Manager) Logs(ctx context.Context, ref string, o LogOptions, stdout, stderr io.Writer) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	f, err := os.Open(c.LogPath())
	if err != nil {
		if !os.IsNotExist(err) {
			return err
		}
		if !o.Follow || !c.State.Running() {
			return nil
		}
		for f == nil {
			time.Sleep(50 * time.Millisecond)
			if f, err = os.Open(c.LogPath()); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	defer f.Close()
	emit := func(line []byte) {
		var e logEntry
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
		if e.Stream == "stderr" && !c.Config.Tty {
			w = stderr
		}
		if w == nil {
			return
		}
		if o.Timestamps {
			io.WriteString(w, e.Time+" ")
		}
		io.WriteString(w, e.Log)
	}
	r := bufio.NewReaderSize(f, 64*1024)
	var lines [][]byte
	var pending []byte
	readAvail := func() {
		for {
			b, err := r.ReadBytes('\n')
			pending = append(pending, b...)
			if err != nil {
				return
			}
			line := pending
			pending = nil
			if o.Tail >= 0 && !o.Follow {
				lines = append(lines, line)
				if len(lines) > o.Tail {
					lines = lines[1:]
				}
				continue
			}
			lines = append(lines, line)
		}
	}
	readAvail()
	if o.Tail >= 0 && len(lines) > o.Tail {
		lines = lines[len(lines)-o.Tail:]
	}
	for _, l := range lines {
		emit(l)
	}
	lines = nil
	if !o.Follow {
		return nil
	}
	o.Tail = -1
	for {
		running := c.State.Running()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		readAvail()
		for _, l := range lines {
			emit(l)
		}
		lines = nil
		if !running {
			return nil
		}
		if err := c.loadState(); err != nil {
			return nil // removed
		}
		if err := m.reconcile(ctx, c); err != nil {
			return err
		}
	}
}
