// Package health owns docker's healthcheck rules for a running container:
// merging the image's HEALTHCHECK with the user's --health-* settings
// (Merge), the probe command (Args), and the check loop with its statuses
// (Run: failures in the start period do not count, Retries failures in a
// row make it unhealthy, a success makes it healthy, the last five probes
// are kept). Running a probe and recording the status are the caller's
// (the container monitor); this package keeps no state on disk.
package health

import (
	"time"

	"github.com/hoistproject/hoist/internal/images"
)

// Config is a healthcheck, as images store it: Test is ["NONE"],
// ["CMD", args...] or ["CMD-SHELL", command]; zero durations and retries
// mean docker's defaults (30s interval, 30s timeout, no start period, 3
// retries).
type Config = images.HealthConfig

// Statuses, as docker's.
const (
	Starting  = "starting"
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
)

// Status is a container's health (docker's State.Health).
type Status struct {
	Status        string `json:"Status"`
	FailingStreak int    `json:"FailingStreak"`
	Log           []Log  `json:"Log"`
}

// Log is one probe's result.
type Log struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Merge is the container's healthcheck: the user's settings over the
// image's (what the user sets wins, field by field; NONE takes nothing of
// the image's), nil when there is no test.
func Merge(img, user *Config) *Config {
	if user == nil {
		return img
	}
	h := *user
	if len(h.Test) == 1 && h.Test[0] == "NONE" {
		return &h
	}
	if img != nil {
		if len(h.Test) == 0 {
			h.Test = img.Test
		}
		if h.Interval == 0 {
			h.Interval = img.Interval
		}
		if h.Timeout == 0 {
			h.Timeout = img.Timeout
		}
		if h.StartPeriod == 0 {
			h.StartPeriod = img.StartPeriod
		}
		if h.Retries == 0 {
			h.Retries = img.Retries
		}
	}
	if len(h.Test) == 0 {
		return nil
	}
	return &h
}

// Args is the command a healthcheck runs, nil for none.
func Args(h *Config) []string {
	if h == nil || len(h.Test) == 0 {
		return nil
	}
	switch h.Test[0] {
	case "CMD":
		return h.Test[1:]
	case "CMD-SHELL":
		if len(h.Test) > 1 {
			return []string{"/bin/sh", "-c", h.Test[1]}
		}
	}
	return nil
}

// Run checks a container started at started until done is closed: every
// interval it runs probe(args, timeout) and hands record a change of the
// status to apply (record may drop it, e.g. once done is closed).
func Run(h *Config, started time.Time, done <-chan struct{}, probe func(args []string, timeout time.Duration) Log, record func(change func(*Status))) {
	args := Args(h)
	if args == nil {
		return
	}
	interval := orDefault(h.Interval, 30*time.Second)
	timeout := orDefault(h.Timeout, 30*time.Second)
	retries := h.Retries
	if retries <= 0 {
		retries = 3
	}
	record(func(s *Status) { s.Status = Starting })
	for {
		select {
		case <-done:
			return
		case <-time.After(interval):
		}
		res := probe(args, timeout)
		inStart := res.Start.Sub(started) < h.StartPeriod
		record(func(s *Status) { s.apply(res, inStart, retries) })
	}
}

// apply records one probe's result.
func (s *Status) apply(res Log, inStart bool, retries int) {
	s.Log = append(s.Log, res)
	if len(s.Log) > 5 {
		s.Log = s.Log[len(s.Log)-5:]
	}
	switch {
	case res.ExitCode == 0:
		s.Status, s.FailingStreak = Healthy, 0
	case inStart:
	default:
		s.FailingStreak++
		if s.FailingStreak >= retries {
			s.Status = Unhealthy
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
