package container

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/container/health"
)

// Health statuses, as docker's.
const (
	HealthStarting  = health.Starting
	HealthHealthy   = health.Healthy
	HealthUnhealthy = health.Unhealthy
)

// checkHealth runs c's healthcheck (package health) until done is closed
// (the monitor's process exited): probes through the runtime, statuses in
// the state file. Each record is made through gate, so that once the
// monitor has closed it, no record can follow its own.
func (m *Manager) checkHealth(c *Container, started time.Time, done <-chan struct{}, gate *recordGate) {
	probe := func(args []string, timeout time.Duration) health.Log { return m.probe(c, args, timeout) }
	record := func(change func(*health.Status)) {
		gate.do(func() { m.updateHealth(c, change) })
	}
	health.Run(c.Config.Healthcheck, started, done, probe, record)
}

// recordGate lets records through until it is closed: close waits for a
// record under way and none follows it. (A probe in flight is not waited
// for; its record is dropped.)
type recordGate struct {
	mu     sync.Mutex
	closed bool
}

func (g *recordGate) do(record func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		record()
	}
}

func (g *recordGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// probe runs the healthcheck command once in c. A probe that outlives
// timeout counts as failed and is killed.
func (m *Manager) probe(c *Container, args []string, timeout time.Duration) health.Log {
	res := health.Log{Start: timeNow()}
	type result struct {
		code int
		out  string
		err  error
	}
	ch := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel() // a probe past its timeout is killed
	go func() {
		var out strings.Builder
		w := &limitedBuf{b: &out, max: 4096}
		code, err := m.Exec(ctx, c.ID, ExecOptions{Cmd: args, KillOnCancel: true}, &attach.Streams{Stdout: w, Stderr: w})
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
	case <-ctx.Done():
		res.ExitCode = -1
		res.Output = "Health check exceeded timeout (" + timeout.String() + ")"
	}
	res.End = timeNow()
	return res
}

// updateHealth changes c's recorded health under its lock.
func (m *Manager) updateHealth(c *Container, change func(*health.Status)) {
	unlock, err := c.lockState()
	if err != nil {
		return
	}
	defer unlock()
	if !c.State.Running() {
		return
	}
	if c.State.Health == nil {
		c.State.Health = &health.Status{Log: []health.Log{}}
	}
	change(c.State.Health)
	if err := c.saveState(); err != nil {
		m.log.Warn("save health", "container", c.ID, "err", err)
	}
}

// exitedHealth is the health recorded for c as its process exits: the last
// probes kept, the status unhealthy (as docker's); nil without a check.
func (c *Container) exitedHealth() *health.Status {
	cur := &Container{dir: c.dir}
	if cur.loadState() != nil || cur.State.Health == nil {
		return nil
	}
	h := cur.State.Health
	h.Status = health.Unhealthy
	return h
}
