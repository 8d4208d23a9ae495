package container

import (
	"context"
	"time"

	"github.com/hoistproject/hoist/internal/container/proc"
)

// Stats is one container's line of `docker stats`.
type Stats struct {
	ID, Name   string
	CPUPercent float64 // of one CPU (100% = one core busy), as docker's
	proc.Usage
}

// Stats samples the containers refs (every running one when empty) twice,
// interval apart: CPU use is what they used in between, the rest is the
// second sample. A container that is not running shows zeros.
func (m *Manager) Stats(ctx context.Context, refs []string, interval time.Duration) ([]Stats, error) {
	var cs []*Container
	if len(refs) == 0 {
		all, err := m.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if c.State.Running() {
				cs = append(cs, c)
			}
		}
	}
	for _, r := range refs {
		c, err := m.Get(ctx, r)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	sample := func() ([]proc.Usage, time.Time) {
		out := make([]proc.Usage, len(cs))
		for i, c := range cs {
			if c.State.Running() && c.State.Pid > 0 {
				out[i], _ = proc.Sample(c.State.Pid)
			}
		}
		return out, time.Now()
	}
	first, t0 := sample()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(interval):
	}
	second, t1 := sample()
	out := make([]Stats, len(cs))
	for i, c := range cs {
		out[i] = Stats{ID: c.ID, Name: c.Name, Usage: second[i]}
		if wall := t1.Sub(t0); wall > 0 && second[i].CPUNanos > first[i].CPUNanos {
			out[i].CPUPercent = float64(second[i].CPUNanos-first[i].CPUNanos) / float64(wall.Nanoseconds()) * 100
		}
	}
	return out, nil
}
