package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

func newUpdateCmd(e *env) *cobra.Command {
	var memory, memorySwap, memoryReservation, cpus, cpusetCpus, cpusetMems, restart string
	var cpuShares, cpuPeriod, cpuQuota, pidsLimit int64
	c := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r engine.Resources
			changed := cmd.Flags().Changed
			bytesFlag := func(name, v string, dst **int64) error {
				if !changed(name) {
					return nil
				}
				n := int64(-1)
				if v != "-1" {
					var err error
					if n, err = parseBytes(v); err != nil {
						return err
					}
				}
				*dst = &n
				return nil
			}
			for _, f := range []struct {
				name, v string
				dst     **int64
			}{{"memory", memory, &r.Memory}, {"memory-swap", memorySwap, &r.MemorySwap}, {"memory-reservation", memoryReservation, &r.MemoryReservation}} {
				if err := bytesFlag(f.name, f.v, f.dst); err != nil {
					return err
				}
			}
			if changed("cpus") {
				v, err := strconv.ParseFloat(cpus, 64)
				if err != nil || v < 0 {
					return errdefs.InvalidArgumentf("invalid argument %q for \"--cpus\" flag", cpus)
				}
				n := int64(v * 1e9)
				r.NanoCPUs = &n
			}
			for name, p := range map[string]*int64{"cpu-shares": &cpuShares, "cpu-period": &cpuPeriod, "cpu-quota": &cpuQuota, "pids-limit": &pidsLimit} {
				if changed(name) {
					v := *p
					switch name {
					case "cpu-shares":
						r.CPUShares = &v
					case "cpu-period":
						r.CPUPeriod = &v
					case "cpu-quota":
						r.CPUQuota = &v
					case "pids-limit":
						r.PidsLimit = &v
					}
				}
			}
			if changed("cpuset-cpus") {
				r.CpusetCpus = &cpusetCpus
			}
			if changed("cpuset-mems") {
				r.CpusetMems = &cpusetMems
			}
			if changed("restart") {
				p, err := engine.ParseRestartPolicy(restart)
				if err != nil {
					return err
				}
				r.RestartPolicy = &p
			}
			return eachContainer(e, args, func(ref string) error { return e.engine().Update(cmd.Context(), ref, r) })
		},
	}
	fs := c.Flags()
	fs.StringVarP(&memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.StringVar(&memoryReservation, "memory-reservation", "", "Memory soft limit")
	fs.StringVar(&cpus, "cpus", "", "Number of CPUs")
	fs.Int64VarP(&cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Int64Var(&cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&restart, "restart", "", "Restart policy to apply when a container exits")
	return c
}
