// Package events is hoist's event log: what docker's daemon reports on
// `docker events` (a container created, started, died, an image tagged,
// deleted, pulled...), kept daemonless as a file under the hoist root that
// every hoist process appends to and `hoist events` reads and follows.
package events

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hoistproject/hoist/internal/fsutil"
)

// Event is one event in docker's JSON form.
type Event struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor is the object an event is about.
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Log is the event log of a hoist root: Path and, once it grows past
// maxSize, Path.1 (the generation before; fsutil.Rotated).
type Log struct{ Path string }

// maxSize is when the log starts a new generation.
const maxSize = 8 << 20

// New is the log of a hoist root.
func New(root string) *Log { return &Log{Path: filepath.Join(root, "events.log")} }

// Record appends an event (best effort: an event that cannot be written
// is dropped; it never fails the operation it describes; a nil Log records
// nothing). One write of one line, O_APPEND: lines from concurrent
// processes never interleave.
func (l *Log) Record(typ, action, id string, attrs map[string]string) {
	if l == nil {
		return
	}
	now := time.Now()
	ev := Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Scope: "local",
		Time: now.Unix(), TimeNano: now.UnixNano()}
	if ev.Actor.Attributes == nil {
		ev.Actor.Attributes = map[string]string{}
	}
	if typ == "container" || typ == "image" { // docker's older fields
		ev.Status, ev.ID = action, id
		if typ == "container" {
			ev.From = attrs["image"]
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	if fi, err := os.Stat(l.Path); err == nil && fi.Size() > maxSize {
		os.Rename(l.Path, fsutil.Rotated(l.Path, 1))
	}
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	f.Write(append(b, '\n'))
	f.Close()
}

// Read calls fn with every recorded event from since up to until (zero
// times: no bound), oldest first.
func (l *Log) Read(since, until time.Time, fn func(Event)) error {
	for _, p := range append(fsutil.RotatedFiles(l.Path), l.Path) {
		err := fsutil.FileLines(p, func(line []byte) {
			if ev, ok := parse(line); ok && ev.within(since, until) {
				fn(ev)
			}
		})
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// Follow calls fn with every event recorded from now on (until's zero
// value: no bound), polling the log, until ctx ends or until passes.
func (l *Log) Follow(ctx context.Context, until time.Time, fn func(Event)) error {
	var lf *fsutil.LineFollower
	defer func() {
		if lf != nil {
			lf.Close()
		}
	}()
	if f, err := os.Open(l.Path); err == nil {
		f.Seek(0, io.SeekEnd) // from now on
		lf = fsutil.FollowLines(l.Path, f)
	}
	for {
		if !until.IsZero() && time.Now().After(until) {
			return nil
		}
		if lf == nil { // no event yet: the log starts with the first
			if f, err := os.Open(l.Path); err == nil {
				lf = fsutil.FollowLines(l.Path, f)
			}
		}
		if lf != nil {
			lf.Lines(func(line []byte) {
				if ev, ok := parse(line); ok && ev.within(time.Time{}, until) {
					fn(ev)
				}
			})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// parse reads one line of the log; false for a line that is not an event
// (one torn by a killed writer).
func parse(line []byte) (Event, bool) {
	var ev Event
	return ev, json.Unmarshal(line, &ev) == nil
}

// within reports whether ev happened from since up to until (zero times:
// no bound).
func (ev Event) within(since, until time.Time) bool {
	return (since.IsZero() || ev.TimeNano >= since.UnixNano()) && (until.IsZero() || ev.TimeNano <= until.UnixNano())
}
