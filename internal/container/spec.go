package container

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// DefaultPath is the PATH a container gets when its image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultCapabilities is docker's default capability set.
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// DefaultCapabilities returns docker's default capability set (a copy), for
// every process hoist starts: containers, exec and build steps.
func DefaultCapabilities() []string { return slices.Clone(defaultCapabilities) }

// MaskedPaths returns docker's masked /proc and /sys paths (a copy).
func MaskedPaths() []string { return slices.Clone(maskedPaths) }

// ReadonlyPaths returns docker's read-only /proc paths (a copy).
func ReadonlyPaths() []string { return slices.Clone(readonlyPaths) }

// initPath is where --init's reaper is bind-mounted in the container.
const initPath = "/dev/init"

// resolveCommand applies docker's ENTRYPOINT/CMD precedence: a user command
// replaces the image's CMD; --entrypoint replaces the image's ENTRYPOINT and
// clears its CMD.
func resolveCommand(img []string, imgCmd []string, cfg Config) ([]string, error) {
	entry, cmd := img, imgCmd
	if cfg.EntrypointSet {
		entry, cmd = nil, nil
		if len(cfg.Entrypoint) > 0 && !(len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "") {
			entry = cfg.Entrypoint
		}
	}
	if len(cfg.Cmd) > 0 {
		cmd = cfg.Cmd
	}
	args := append(append([]string{}, entry...), cmd...)
	if len(args) == 0 {
		return nil, errdefs.InvalidArgumentf("No command specified")
	}
	return args, nil
}

// mergeEnv returns base with each KEY=VALUE of over replacing or appending.
func mergeEnv(base []string, over ...[]string) []string {
	out := append([]string{}, base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, list := range over {
		for _, kv := range list {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// processEnv is the container process's environment: PATH and HOSTNAME
// defaults, TERM with a tty, then the merged image+user env.
func processEnv(c *Container, tty bool, extra []string) []string {
	base := []string{"PATH=" + DefaultPath, "HOSTNAME=" + c.Config.Hostname}
	if tty {
		base = append(base, "TERM=xterm")
	}
	return mergeEnv(base, c.Config.Env, extra)
}

// prepareCwd checks that cwd is absolute and creates it inside rootfs if
// missing (as docker does), never leaving the rootfs.
func prepareCwd(rootfs, cwd string, u ExecUser) error {
	if !path.IsAbs(cwd) {
		return errdefs.InvalidArgumentf("the working directory '%s' is invalid, it needs to be an absolute path", cwd)
	}
	if cwd == "/" {
		return nil
	}
	if f, err := pathrs.OpenInRoot(rootfs, cwd); err == nil {
		f.Close()
		return nil
	}
	if err := pathrs.MkdirAll(rootfs, cwd, 0o755); err != nil {
		return fmt.Errorf("create working directory %s: %w", cwd, err)
	}
	if f, err := pathrs.OpenInRoot(rootfs, cwd); err == nil {
		_ = unix.Fchownat(int(f.Fd()), "", int(u.UID), int(u.GID), unix.AT_EMPTY_PATH)
		f.Close()
	}
	return nil
}

func hostRlimit(res int) (uint64, bool) {
	var r unix.Rlimit
	if err := unix.Getrlimit(res, &r); err != nil {
		return 0, false
	}
	return r.Max, true
}

var rlimitNames = map[string]int{
	"core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// Rlimits returns a process's rlimits: RLIMIT_NOFILE 1048576 (docker's
// default) and the --ulimit values, every one clamped to the host's hard
// limit so that the runtime never fails raising them.
func Rlimits(ulimits []Ulimit) ([]specs.POSIXRlimit, error) {
	want := map[string]Ulimit{"nofile": {Name: "nofile", Soft: 1048576, Hard: 1048576}}
	order := []string{"nofile"}
	for _, u := range ulimits {
		if _, ok := rlimitNames[u.Name]; !ok {
			return nil, errdefs.InvalidArgumentf("invalid ulimit type: %s", u.Name)
		}
		if _, seen := want[u.Name]; !seen {
			order = append(order, u.Name)
		}
		want[u.Name] = u
	}
	var out []specs.POSIXRlimit
	for _, n := range order {
		u := want[n]
		soft, hard := uint64(u.Soft), uint64(u.Hard)
		if u.Soft < 0 {
			soft = unix.RLIM_INFINITY
		}
		if u.Hard < 0 {
			hard = unix.RLIM_INFINITY
		}
		if max, ok := hostRlimit(rlimitNames[n]); ok {
			hard = min(hard, max)
			soft = min(soft, hard)
		}
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(n), Soft: soft, Hard: hard})
	}
	return out, nil
}

func u64(v uint64) *uint64 { return &v }
func i64(v int64) *int64   { return &v }

// buildSpec generates the OCI runtime spec for c with its rootfs mounted at
// rootfs.
func (m *Manager) buildSpec(c *Container, rootfs string) (*specs.Spec, error) {
	u, err := ResolveUser(rootfs, c.Config.User)
	if err != nil {
		return nil, err
	}
	cwd := c.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if err := prepareCwd(rootfs, cwd, u); err != nil {
		return nil, err
	}
	args := append([]string{c.Path}, c.Args...)
	if c.HostConfig.Init {
		args = append([]string{initPath, "container-init", "--"}, args...)
	}
	rl, err := Rlimits(c.HostConfig.Ulimits)
	if err != nil {
		return nil, err
	}
	caps := DefaultCapabilities()
	pcaps := &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	if u.UID != 0 {
		// Docker >= 23: non-root users get no effective capabilities.
		pcaps = &specs.LinuxCapabilities{Bounding: caps}
	}
	noNewPriv := false
	for _, o := range c.HostConfig.SecurityOpt {
		switch o {
		case "no-new-privileges", "no-new-privileges:true", "no-new-privileges=true":
			noNewPriv = true
		case "no-new-privileges:false", "no-new-privileges=false":
		default:
			return nil, errdefs.InvalidArgumentf("invalid --security-opt: %q", o)
		}
	}
	s := &specs.Spec{
		// The oldest version that has every field used here: runtimes as old
		// as Debian 12's crun reject newer version strings.
		Version: "1.0.2",
		Process: &specs.Process{
			Terminal:        c.Config.Tty,
			User:            specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.Groups},
			Args:            args,
			Env:             withHome(processEnv(c, c.Config.Tty, nil), u.Home),
			Cwd:             cwd,
			Capabilities:    pcaps,
			Rlimits:         rl,
			NoNewPrivileges: noNewPriv,
		},
		Root:     &specs.Root{Path: rootfs, Readonly: c.HostConfig.ReadonlyRootfs},
		Hostname: c.Config.Hostname,
		Mounts:   DefaultMounts(),
		Linux: &specs.Linux{
			CgroupsPath: "hoist-" + c.ID,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths:   MaskedPaths(),
			ReadonlyPaths: ReadonlyPaths(),
		},
	}
	switch netMode(c) {
	case "host":
	case "none":
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	default:
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: filepath.Join(c.dir, "netns")})
	}
	res := s.Linux.Resources
	if hc := c.HostConfig; hc.Memory > 0 {
		res.Memory = &specs.LinuxMemory{Limit: i64(hc.Memory)}
	}
	if hc := c.HostConfig; hc.NanoCPUs > 0 || hc.CPUShares > 0 {
		res.CPU = &specs.LinuxCPU{}
		if hc.NanoCPUs > 0 {
			res.CPU.Period = u64(100000)
			res.CPU.Quota = i64(hc.NanoCPUs * 100000 / 1e9)
		}
		if hc.CPUShares > 0 {
			res.CPU.Shares = u64(uint64(hc.CPUShares))
		}
	}
	if hc := c.HostConfig; hc.PidsLimit != 0 {
		res.Pids = &specs.LinuxPids{Limit: i64(hc.PidsLimit)}
	}
	// Per-container files, bind-mounted so they are never part of the
	// container's upper dir (never committed).
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/etc/" + f, Type: "bind", Source: filepath.Join(c.dir, f),
			Options: []string{"rbind", "rprivate"},
		})
	}
	if c.HostConfig.Init {
		self := m.opts.Self[0]
		s.Mounts = append(s.Mounts, specs.Mount{Destination: initPath, Type: "bind", Source: self, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	for _, mp := range c.Mounts {
		opts := []string{"rbind", "rprivate"}
		if !mp.RW {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: mp.Destination, Type: "bind", Source: mp.Source, Options: opts})
	}
	return s, nil
}

// DefaultMounts are docker's /proc, /dev, /dev/pts, /sys, cgroup, mqueue
// and /dev/shm (64 MiB; its size is the last option) mounts.
func DefaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
	}
}

func netMode(c *Container) string {
	switch c.HostConfig.NetworkMode {
	case "", "default":
		return "bridge"
	}
	return c.HostConfig.NetworkMode
}

// writeEtcFiles writes the container's hosts, hostname and resolv.conf.
func writeEtcFiles(c *Container) error {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	resolv := ""
	switch netMode(c) {
	case "bridge":
		hosts += slirpGuestIP + "\t" + c.Config.Hostname + "\n"
		resolv = "nameserver " + slirpDNS + "\n"
	case "host":
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	if resolv == "" {
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil || !hasUsableNameserver(string(b)) {
			b = []byte("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
		}
		resolv = string(b)
	}
	files := map[string]string{"hosts": hosts, "hostname": c.Config.Hostname + "\n", "resolv.conf": resolv}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// hasUsableNameserver is false when every nameserver is a loopback address
// (unreachable from a container's own network namespace).
func hasUsableNameserver(resolv string) bool {
	for _, l := range strings.Split(resolv, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" && !strings.HasPrefix(f[1], "127.") && f[1] != "::1" {
			return true
		}
	}
	return false
}

// withHome appends HOME=home unless env sets HOME.
func withHome(env []string, home string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	return append(env, "HOME="+home)
}

// ParseUlimit parses docker's --ulimit NAME=SOFT[:HARD] (-1: unlimited).
func ParseUlimit(s string) (Ulimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return Ulimit{}, errdefs.InvalidArgumentf("invalid ulimit argument: %s", s)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	soft, err := strconv.ParseInt(softS, 10, 64)
	if err != nil {
		return Ulimit{}, errdefs.InvalidArgumentf("invalid ulimit soft value: %s", softS)
	}
	hard := soft
	if hasHard {
		if hard, err = strconv.ParseInt(hardS, 10, 64); err != nil {
			return Ulimit{}, errdefs.InvalidArgumentf("invalid ulimit hard value: %s", hardS)
		}
	}
	if soft > hard && hard >= 0 {
		return Ulimit{}, errdefs.InvalidArgumentf("ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard)
	}
	return Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}
