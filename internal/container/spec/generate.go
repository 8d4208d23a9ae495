package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"maps"
	"slices"
	"sort"
)

// Version is the runtime-spec version of the specs hoist writes (runs and
// build steps): the oldest that has every field used, as runtimes as old
// as Debian 12's crun reject newer version strings.
const Version = "1.0.2"

// InitPath is where --init's reaper (RunInit) is bind-mounted in the
// container.
const InitPath = "/dev/init"

// Options are what Generate needs to know of a container.
type Options struct {
	Rootfs         string // the mounted root filesystem
	ReadonlyRootfs bool
	Hostname       string
	User           string   // docker USER spec, resolved in Rootfs (ResolveUser)
	Cwd            string   // absolute; created in Rootfs if missing ("": /)
	Args           []string // the command
	Env            []string // the process environment; HOME is added from the user's entry unless set
	Tty            bool
	// Init, when set, is the host path of the init binary: it is mounted
	// at InitPath and runs Args as "container-init -- ARGS...".
	Init        string
	Ulimits     []Ulimit
	SecurityOpt []string // docker's --security-opt (ParseSecurityOpts, Confine)
	CgroupsPath string
	// HostNetwork keeps the host's network namespace; otherwise the
	// container joins NetNS (a bind-mounted namespace), or a new one when
	// NetNS is "".
	HostNetwork bool
	NetNS       string
	// Limits are the cgroup limits (docker's resource flags).
	Limits
	// CapAdd and CapDrop change docker's default capabilities (CapSet).
	CapAdd, CapDrop []string
	// GroupAdd are more groups for the process (names or numbers).
	GroupAdd []string
	// ShmSize is /dev/shm's size in bytes (0: docker's 64 MiB).
	ShmSize int64
	// Tmpfs are tmpfs mounts: path -> options (docker's --tmpfs).
	Tmpfs map[string]string
	// Privileged: every capability and host device, no masked or
	// read-only paths, /sys and cgroups writable (docker's --privileged).
	Privileged bool
	// HostPID, HostIPC and HostUTS share the host's namespace (--pid host,
	// --ipc host, --uts host).
	HostPID, HostIPC, HostUTS bool
	// docker's --device, --sysctl, --domainname, --oom-score-adj,
	// --cgroupns private.
	Devices         []DeviceMapping
	Sysctls         map[string]string
	Domainname      string
	OOMScoreAdj     *int
	PrivateCgroupNS bool
	// Mounts come after the default ones (before the init mount).
	Mounts []specs.Mount
	// Volumes come last.
	Volumes []specs.Mount
}

func u64(v uint64) *uint64 { return &v }
func i64(v int64) *int64   { return &v }

// Generate returns the OCI runtime spec of a container described by o,
// with docker's defaults (capabilities, masked paths, mounts, rlimits).
func Generate(o Options) (*specs.Spec, error) {
	u, err := ResolveUser(o.Rootfs, o.User)
	if err != nil {
		return nil, err
	}
	cwd := o.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := PrepareCwd(o.Rootfs, cwd, u); err != nil {
		return nil, err
	}
	args := o.Args
	if o.Init != "" {
		args = append([]string{InitPath, "container-init", "--"}, args...)
	}
	rl, err := Rlimits(o.Ulimits)
	if err != nil {
		return nil, err
	}
	sec, err := ParseSecurityOpts(o.SecurityOpt)
	if err != nil {
		return nil, err
	}
	caps, err := ProcessCapabilities(u.UID, o.CapAdd, o.CapDrop, o.Privileged)
	if err != nil {
		return nil, err
	}
	more, err := ResolveGroups(o.Rootfs, o.GroupAdd)
	if err != nil {
		return nil, err
	}
	defaults := DefaultMounts()
	s := &specs.Spec{
		Version: Version,
		Process: &specs.Process{
			Terminal:     o.Tty,
			User:         specs.User{UID: u.UID, GID: u.GID, AdditionalGids: append(u.Groups, more...)},
			Args:         args,
			Env:          WithHome(o.Env, u.Home),
			Cwd:          cwd,
			Capabilities: caps,
			Rlimits:      rl,
		},
		Root:     &specs.Root{Path: o.Rootfs, Readonly: o.ReadonlyRootfs},
		Hostname: o.Hostname,
		Mounts:   defaults,
		Linux: &specs.Linux{
			CgroupsPath: o.CgroupsPath,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths:   MaskedPaths(),
			ReadonlyPaths: ReadonlyPaths(),
			Sysctl:        o.Sysctls,
		},
	}
	if o.Domainname != "" {
		// As docker: a sysctl of the UTS namespace (runtimes as old as
		// Debian 12's runc ignore the spec's domainname).
		s.Linux.Sysctl = maps.Clone(o.Sysctls)
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		s.Linux.Sysctl["kernel.domainname"] = o.Domainname
	}
	s.Process.OOMScoreAdj = o.OOMScoreAdj
	if o.PrivateCgroupNS {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	if !o.HostNetwork {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: o.NetNS})
	}
	for typ, host := range map[specs.LinuxNamespaceType]bool{specs.PIDNamespace: o.HostPID, specs.IPCNamespace: o.HostIPC, specs.UTSNamespace: o.HostUTS} {
		if host {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == typ })
		}
	}
	if o.HostUTS {
		s.Hostname = "" // the host's own
	}
	if o.Privileged {
		for i := range s.Mounts {
			if m := &s.Mounts[i]; m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
				m.Options = slices.DeleteFunc(m.Options, func(o string) bool { return o == "ro" })
			}
		}
		s.Linux.Devices = HostDevices()
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	devs, rules, err := Devices(o.Devices)
	if err != nil {
		return nil, err
	}
	for _, d := range devs {
		if !slices.ContainsFunc(s.Linux.Devices, func(h specs.LinuxDevice) bool { return h.Path == d.Path }) {
			s.Linux.Devices = append(s.Linux.Devices, d)
		}
	}
	res := s.Linux.Resources
	if !o.Privileged {
		res.Devices = append(res.Devices, rules...)
	}
	o.Limits.Apply(res)
	if o.ShmSize > 0 {
		for i := range s.Mounts {
			if m := &s.Mounts[i]; m.Destination == "/dev/shm" {
				m.Options[len(m.Options)-1] = ShmOption(o.ShmSize)
			}
		}
	}
	s.Mounts = append(s.Mounts, o.Mounts...)
	paths := make([]string, 0, len(o.Tmpfs))
	for p := range o.Tmpfs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s.Mounts = append(s.Mounts, Tmpfs(p, o.Tmpfs[p]))
	}
	if o.Init != "" {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: InitPath, Type: "bind", Source: o.Init, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	s.Mounts = append(s.Mounts, o.Volumes...)
	fixed := make([]string, 0, len(defaults))
	for _, m := range defaults {
		fixed = append(fixed, m.Destination)
	}
	prepareMountPoints(o.Rootfs, s.Mounts[len(defaults):], fixed)
	s.Linux.RootfsPropagation = rootfsPropagation(o.Volumes)
	if err := Confine(s, sec, o.Privileged); err != nil {
		return nil, err
	}
	AdaptRootless(s)
	return s, nil
}

// rootfsPropagation is the propagation the container's root needs for its
// binds' (as docker): shared if one is shared (events must reach the
// bind), else rslave if one is a slave, else the runtime's default.
func rootfsPropagation(binds []specs.Mount) string {
	prop := ""
	for _, m := range binds {
		for _, o := range m.Options {
			switch o {
			case "shared", "rshared":
				return "shared"
			case "slave", "rslave":
				prop = "rslave"
			}
		}
	}
	return prop
}

// Bind is a recursive bind mount of source at dest, read-only unless rw,
// with mount propagation propagation (rprivate when "").
func Bind(source, dest string, rw bool, propagation string) specs.Mount {
	if propagation == "" {
		propagation = "rprivate"
	}
	opts := []string{"rbind", propagation}
	if !rw {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: dest, Type: "bind", Source: source, Options: opts}
}

// Limits are docker's cgroup flags, for containers and build steps alike.
type Limits struct {
	Memory            int64  // bytes; 0: unlimited
	MemorySwap        int64  // --memory-swap: memory plus swap (-1: unlimited swap)
	MemoryReservation int64  // --memory-reservation
	MemorySwappiness  *int64 // nil or -1 (docker's API default): the kernel's
	OomKillDisable    bool
	NanoCPUs          int64 // --cpus, in 1e-9 CPUs; 0: unlimited
	CPUShares         int64
	CPUPeriod         int64
	CPUQuota          int64
	CpusetCpus        string
	CpusetMems        string
	PidsLimit         int64
}

// Apply sets l's memory, CPU and pids limits in res.
func (l Limits) Apply(res *specs.LinuxResources) {
	if l.MemorySwappiness != nil && *l.MemorySwappiness < 0 {
		l.MemorySwappiness = nil // docker's "unset"
	}
	if l.Memory > 0 || l.MemorySwap != 0 || l.MemoryReservation > 0 || l.OomKillDisable || l.MemorySwappiness != nil {
		res.Memory = &specs.LinuxMemory{}
		if l.MemorySwappiness != nil {
			res.Memory.Swappiness = u64(uint64(*l.MemorySwappiness))
		}
		if l.Memory > 0 {
			res.Memory.Limit = i64(l.Memory)
		}
		if l.MemorySwap != 0 {
			res.Memory.Swap = i64(l.MemorySwap)
		}
		if l.MemoryReservation > 0 {
			res.Memory.Reservation = i64(l.MemoryReservation)
		}
		if l.OomKillDisable {
			t := true
			res.Memory.DisableOOMKiller = &t
		}
	}
	if l.NanoCPUs > 0 || l.CPUShares > 0 || l.CPUPeriod > 0 || l.CPUQuota > 0 || l.CpusetCpus != "" || l.CpusetMems != "" {
		res.CPU = &specs.LinuxCPU{Cpus: l.CpusetCpus, Mems: l.CpusetMems}
		if l.NanoCPUs > 0 {
			res.CPU.Period = u64(100000)
			res.CPU.Quota = i64(l.NanoCPUs * 100000 / 1e9)
		}
		if l.CPUPeriod > 0 {
			res.CPU.Period = u64(uint64(l.CPUPeriod))
		}
		if l.CPUQuota > 0 {
			res.CPU.Quota = i64(l.CPUQuota)
		}
		if l.CPUShares > 0 {
			res.CPU.Shares = u64(uint64(l.CPUShares))
		}
	}
	if l.PidsLimit != 0 {
		res.Pids = &specs.LinuxPids{Limit: i64(l.PidsLimit)}
	}
}
