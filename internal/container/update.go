package container

import (
	"context"
	"encoding/json"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/rootless"
)

// Resources are the limits `update` changes; nil fields stay as they are.
type Resources struct {
	Memory, MemorySwap, MemoryReservation *int64
	NanoCPUs, CPUShares, CPUPeriod        *int64
	CPUQuota, PidsLimit                   *int64
	CpusetCpus, CpusetMems                *string
	// RestartPolicy is --restart (the monitor reads it at the next exit).
	RestartPolicy *RestartPolicy
}

// Update changes c's resource limits: in its record, and in its cgroups
// through the runtime when it runs (docker update).
func (m *Manager) Update(ctx context.Context, ref string, r Resources) error {
	c, unlock, err := m.getLocked(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	hc := &c.HostConfig
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&hc.Memory, r.Memory)
	set(&hc.MemorySwap, r.MemorySwap)
	set(&hc.MemoryReservation, r.MemoryReservation)
	set(&hc.NanoCPUs, r.NanoCPUs)
	set(&hc.CPUShares, r.CPUShares)
	set(&hc.CPUPeriod, r.CPUPeriod)
	set(&hc.CPUQuota, r.CPUQuota)
	set(&hc.PidsLimit, r.PidsLimit)
	if r.CpusetCpus != nil {
		hc.CpusetCpus = *r.CpusetCpus
	}
	if r.CpusetMems != nil {
		hc.CpusetMems = *r.CpusetMems
	}
	if err := rootless.CheckLimits(hc.limits()...); err != nil {
		return errdefs.InvalidArgumentf("%v", err)
	}
	if p := r.RestartPolicy; p != nil {
		if err := p.Validate(); err != nil {
			return err
		}
		if hc.AutoRemove && !p.IsNone() {
			return errdefs.InvalidArgumentf("Cannot update container %s: Restart policy cannot be updated because AutoRemove is enabled for the container", c.ID)
		}
		hc.RestartPolicy = *p
	}
	if hc.MemorySwap > 0 && hc.MemorySwap < hc.Memory {
		return errdefs.InvalidArgumentf("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
	}
	if c.State.Running() && c.State.Status != StatusRestarting {
		res := specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{Cpus: hc.CpusetCpus, Mems: hc.CpusetMems}}
		if hc.Memory > 0 {
			res.Memory.Limit = &hc.Memory
		}
		if hc.MemorySwap != 0 {
			res.Memory.Swap = &hc.MemorySwap
		}
		if hc.MemoryReservation > 0 {
			res.Memory.Reservation = &hc.MemoryReservation
		}
		if hc.CPUShares > 0 {
			s := uint64(hc.CPUShares)
			res.CPU.Shares = &s
		}
		period, quota := uint64(hc.CPUPeriod), hc.CPUQuota
		if hc.NanoCPUs > 0 {
			period, quota = 100000, hc.NanoCPUs*100000/1e9
		}
		if period > 0 {
			res.CPU.Period = &period
		}
		if quota > 0 {
			res.CPU.Quota = &quota
		}
		if hc.PidsLimit != 0 {
			limit := hc.PidsLimit
			res.Pids = &specs.LinuxPids{Limit: &limit}
		}
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		cmd := m.runtimeCmd(ctx, c, "update", "--resources", "-", c.ID)
		cmd.Stdin = strings.NewReader(string(b))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return errdefs.InvalidArgumentf("Cannot update container %s: %s", c.ID, strings.TrimSpace(out.String()))
		}
	}
	return c.saveConfig()
}
