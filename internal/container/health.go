package container

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hoistproject/hoist/internal/container/attach"
)

// Health statuses, as docker's.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// mergeHealth is the container's healthcheck: the user's settings over the
// image's (docker's merge: what the user sets wins, field by field).
func mergeHealth(img, user *HealthConfig) *HealthConfig {
	if user == nil {
		return img
	}
	h := *user
	if len(h.Test) == 1 && h.Test[0] == "NONE" {
		return &h // --no-healthcheck: nothing of the image's
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

// probeArgs is the command of a healthcheck test, nil for none.
func probeArgs(h *HealthConfig) []string {
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

// orDuration is d, or def when d is not set.
func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// checkHealth runs c's healthcheck until done is closed (the monitor's
// process exited): a probe every interval, recording State.Health as
// docker does (failures in the start period do not count; retries in a row
// make it unhealthy; a success makes it healthy). Each record is made
// holding mu and only while done is open, so that once the monitor has
// closed done and taken mu, no record can follow its own.
func (m *Manager) checkHealth(c *Container, started time.Time, done <-chan struct{}, mu *sync.Mutex) {
	h := c.Config.Healthcheck
	args := probeArgs(h)
	if args == nil {
		return
	}
	interval := orDuration(h.Interval, 30*time.Second)
	timeout := orDuration(h.Timeout, 30*time.Second)
	retries := h.Retries
	if retries <= 0 {
		retries = 3
	}
	update := func(change func(*Health)) {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-done:
		default:
			m.updateHealth(c, change)
		}
	}
	update(func(hs *Health) { hs.Status = HealthStarting })
	for {
		select {
		case <-done:
			return
		case <-time.After(interval):
		}
		res := m.probe(c, args, timeout)
		inStart := res.Start.Sub(started) < h.StartPeriod
		update(func(hs *Health) {
			hs.Log = append(hs.Log, res)
			if len(hs.Log) > 5 {
				hs.Log = hs.Log[len(hs.Log)-5:]
			}
			switch {
			case res.ExitCode == 0:
				hs.Status, hs.FailingStreak = HealthHealthy, 0
			case inStart:
			default:
				hs.FailingStreak++
				if hs.FailingStreak >= retries {
					hs.Status = HealthUnhealthy
				}
			}
		})
	}
}

// probe runs the healthcheck command once in c. A probe that outlives
// timeout counts as failed (it is left to finish on its own).
func (m *Manager) probe(c *Container, args []string, timeout time.Duration) HealthLog {
	res := HealthLog{Start: timeNow()}
	type result struct {
		code int
		out  string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var out strings.Builder
		w := &limitedBuf{b: &out, max: 4096}
		code, err := m.Exec(context.Background(), c.ID, ExecOptions{Cmd: args}, &attach.Streams{Stdout: w, Stderr: w})
		ch <- result{code, out.String(), err}
	}()
	select {
	case r := <-ch:
		res.ExitCode, res.Output = r.code, r.out
		if r.err != nil {
			res.ExitCode = -1
			var se *StartError
			if errors.As(r.err, &se) {
				res.ExitCode = se.Code
			}
			res.Output += r.err.Error()
		}
	case <-time.After(timeout):
		res.ExitCode = -1
		res.Output = "Health check exceeded timeout (" + timeout.String() + ")"
	}
	res.End = timeNow()
	return res
}

// updateHealth changes c's recorded health under its lock.
func (m *Manager) updateHealth(c *Container, change func(*Health)) {
	unlock, err := c.lockState()
	if err != nil {
		return
	}
	defer unlock()
	if !c.State.Running() {
		return
	}
	if c.State.Health == nil {
		c.State.Health = &Health{Log: []HealthLog{}}
	}
	change(c.State.Health)
	if err := c.saveState(); err != nil {
		m.log.Warn("save health", "container", c.ID, "err", err)
	}
}

// exitedHealth is the health recorded for c as its process exits: the last
// probes kept, the status unhealthy (as docker's); nil without a check.
func (c *Container) exitedHealth() *Health {
	cur := &Container{dir: c.dir}
	if cur.loadState() != nil || cur.State.Health == nil {
		return nil
	}
	h := cur.State.Health
	h.Status = HealthUnhealthy
	return h
}
