package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// hostOptions applies run/create's mount, capability, group, /dev/shm,
// hosts and DNS flags to o and hc, checking them as docker does.
func (f *createFlags) hostOptions(o *engine.ContainerOptions, hc *engine.HostConfig) error {
	for _, t := range f.tmpfs {
		p, opts, _ := strings.Cut(t, ":")
		if !strings.HasPrefix(p, "/") {
			return errdefs.InvalidArgumentf("invalid mount config for type \"tmpfs\": invalid mount path: '%s' mount path must be absolute", p)
		}
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs[p] = opts
	}
	for _, v := range f.mounts {
		m, err := parseMount(v)
		if err != nil {
			return err
		}
		switch {
		case m.Type == "tmpfs":
			if hc.Tmpfs == nil {
				hc.Tmpfs = map[string]string{}
			}
			hc.Tmpfs[m.Target] = m.Options
		case m.Type == "volume" && m.Source == "": // anonymous
			if o.Config.Volumes == nil {
				o.Config.Volumes = map[string]struct{}{}
			}
			o.Config.Volumes[m.Target] = struct{}{}
		default:
			hc.Binds = append(hc.Binds, m.bind())
		}
	}
	if _, err := spec.CapSet(f.capAdd, f.capDrop); err != nil {
		return &shapedErr{err: err, daemon: true} // docker's daemon checks them
	}
	hc.CapAdd, hc.CapDrop, hc.GroupAdd = f.capAdd, f.capDrop, f.groupAdd
	if f.shmSize != "" {
		n, err := parseBytes(f.shmSize)
		if err != nil || n <= 0 {
			return errdefs.InvalidArgumentf("invalid argument %q for \"--shm-size\" flag: invalid size", f.shmSize)
		}
		hc.ShmSize = n
	}
	for _, h := range f.addHost {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || (ip != "host-gateway" && net.ParseIP(ip) == nil) {
			return errdefs.InvalidArgumentf("invalid argument %q for \"--add-host\" flag: invalid IP address in add-host: %q", h, ip)
		}
	}
	hc.ExtraHosts = f.addHost
	for _, d := range f.dns {
		if net.ParseIP(d) == nil {
			return errdefs.InvalidArgumentf("invalid argument %q for \"--dns\" flag: %s is not an ip address", d, d)
		}
	}
	hc.DNS, hc.DNSSearch, hc.DNSOptions = f.dns, f.dnsSearch, f.dnsOption
	hc.ContainerIDFile = f.cidfile
	hc.Privileged, hc.PidMode, hc.IpcMode, hc.UTSMode = f.privileged, f.pidMode, f.ipcMode, f.utsMode
	hc.CpusetCpus, hc.CpusetMems, hc.CPUPeriod, hc.CPUQuota = f.cpusetCpus, f.cpusetMems, f.cpuPeriod, f.cpuQuota
	hc.OomKillDisable = f.oomKillDisable
	for _, d := range f.devices {
		dm, err := spec.ParseDevice(d)
		if err != nil {
			return err
		}
		hc.Devices = append(hc.Devices, dm)
	}
	for _, kv := range f.sysctls {
		k, v, err := spec.CheckSysctl(kv)
		if err != nil {
			return err
		}
		if hc.Sysctls == nil {
			hc.Sysctls = map[string]string{}
		}
		hc.Sysctls[k] = v
	}
	if f.oomScoreAdj < -1000 || f.oomScoreAdj > 1000 {
		return errdefs.FailedPreconditionf("Invalid value %d, range for oom score adj is [-1000, 1000]", f.oomScoreAdj)
	}
	if f.memorySwappiness != -1 {
		if f.memorySwappiness < 0 || f.memorySwappiness > 100 {
			return errdefs.InvalidArgumentf("invalid value: %d. Valid memory swappiness range is 0-100", f.memorySwappiness)
		}
		sw := f.memorySwappiness
		hc.MemorySwappiness = &sw
	}
	switch f.cgroupns {
	case "", "host", "private":
	default:
		return errdefs.InvalidArgumentf("--cgroupns: invalid CGROUP mode")
	}
	switch f.userns {
	case "", "host":
	default:
		return errdefs.InvalidArgumentf("--userns: invalid USER mode (hoist supports \"host\")")
	}
	hc.VolumesFrom, hc.OomScoreAdj, hc.CgroupParent, hc.CgroupnsMode, hc.UsernsMode = f.volumesFrom, f.oomScoreAdj, f.cgroupParent, f.cgroupns, f.userns
	o.Config.Domainname = f.domainname
	hc.LogConfig = engine.LogConfig{Type: f.logDriver}
	for _, opt := range f.logOpts {
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			return errdefs.InvalidArgumentf("invalid argument %q for \"--log-opt\" flag: invalid key value pair format", opt)
		}
		if hc.LogConfig.Config == nil {
			hc.LogConfig.Config = map[string]string{}
		}
		hc.LogConfig.Config[k] = v
	}
	if err := engine.CheckLogConfig(hc.LogConfig); err != nil {
		return &shapedErr{err: err, daemon: true} // docker's daemon checks them
	}
	var err error
	if hc.MemoryReservation, err = parseBytes(f.memoryReservation); err != nil {
		return err
	}
	hc.MemorySwap, err = parseMemorySwap(f.memorySwap, hc.Memory)
	return err
}

// parseMemorySwap parses --memory-swap (memory plus swap; "-1":
// unlimited swap) with docker's checks against the --memory limit, for
// run/create and build.
func parseMemorySwap(s string, memory int64) (int64, error) {
	switch s {
	case "":
		return 0, nil
	case "-1":
		return -1, nil
	}
	swap, err := parseBytes(s)
	if err != nil {
		return 0, err
	}
	if memory == 0 {
		return 0, errdefs.InvalidArgumentf("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if swap < memory {
		return 0, errdefs.InvalidArgumentf("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	return swap, nil
}

// checkCIDFile refuses an existing --cidfile before the container is made.
func checkCIDFile(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return errdefs.InvalidArgumentf("Container ID file found, make sure the other container isn't running or delete %s", path)
	}
	return nil
}

// writeCIDFile writes the new container's ID to --cidfile.
func writeCIDFile(path, id string) error {
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, []byte(id), 0o644); err != nil {
		return fmt.Errorf("failed to write the container ID to the file: %w", err)
	}
	return nil
}

// parseExpose reads --expose PORT[/PROTO] or START-END[/PROTO] (tcp when
// no protocol is given).
func parseExpose(v string) ([]string, error) {
	r, err := engine.ParsePortRange(v)
	if errors.Is(err, engine.ErrPortOrder) {
		ports, _, _ := strings.Cut(v, "/")
		err = fmt.Errorf("invalid range specified for port: %s", ports)
	}
	if err != nil {
		return nil, errdefs.InvalidArgumentf("invalid range format for --expose: %s, error: %v", v, err)
	}
	if r.Proto == "" {
		r.Proto = "tcp"
	}
	var out []string
	for p := r.Lo; p <= r.Hi; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, r.Proto))
	}
	return out, nil
}

// healthcheck is the container's healthcheck from --health-* and
// --no-healthcheck (nil: the image's), checked as docker does.
func (f *createFlags) healthcheck() (*engine.HealthConfig, error) {
	set := f.healthCmd != "" || f.healthInterval != 0 || f.healthTimeout != 0 || f.healthStartPeriod != 0 || f.healthRetries != 0
	if f.noHealthcheck {
		if set {
			return nil, errdefs.InvalidArgumentf("--no-healthcheck conflicts with --health-* options")
		}
		return &engine.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	for name, d := range map[string]time.Duration{"--health-interval": f.healthInterval, "--health-timeout": f.healthTimeout, "--health-start-period": f.healthStartPeriod} {
		if d < 0 {
			return nil, errdefs.InvalidArgumentf("%s cannot be negative", name)
		}
	}
	if f.healthRetries < 0 {
		return nil, errdefs.InvalidArgumentf("--health-retries cannot be negative")
	}
	h := &engine.HealthConfig{Interval: f.healthInterval, Timeout: f.healthTimeout, StartPeriod: f.healthStartPeriod, Retries: f.healthRetries}
	if f.healthCmd != "" {
		h.Test = []string{"CMD-SHELL", f.healthCmd}
	}
	return h, nil
}
