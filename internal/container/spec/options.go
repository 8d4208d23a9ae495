package spec

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// grantable are the capabilities --privileged and --cap-add ALL grant:
// all of allCapabilities that this process's bounding set has (a runtime
// cannot grant more; docker fails where the host lacks one).
func grantable() []string {
	all := allCapabilities()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return all
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			bnd, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return all
			}
			var out []string
			for i, c := range all {
				if bnd&(1<<uint(i)) != 0 {
					out = append(out, c)
				}
			}
			return out
		}
	}
	return all
}

// allCapabilities are the capabilities of Linux 5.9+, indexed by their
// numbers.
func allCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
		"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
		"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
		"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
		"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
		"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
		"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
	}
}

// normalizeCap turns docker's --cap-add/--cap-drop spellings (chown,
// CHOWN, CAP_CHOWN, ALL) into CAP_CHOWN or ALL; field names the option in
// the error (CapAdd, CapDrop).
func normalizeCap(c, field string) (string, error) {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c == "ALL" {
		return c, nil
	}
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	if !slices.Contains(allCapabilities(), c) {
		return "", errdefs.InvalidArgumentf("invalid %s: unknown capability: %q", field, c)
	}
	return c, nil
}

// CapSet is docker's default capability set changed by --cap-add and
// --cap-drop (drops first, so --cap-drop ALL --cap-add X leaves X).
func CapSet(add, drop []string) ([]string, error) {
	set := DefaultCapabilities()
	for _, d := range drop {
		c, err := normalizeCap(d, "CapDrop")
		if err != nil {
			return nil, err
		}
		if c == "ALL" {
			set = nil
			continue
		}
		set = slices.DeleteFunc(set, func(s string) bool { return s == c })
	}
	for _, a := range add {
		c, err := normalizeCap(a, "CapAdd")
		if err != nil {
			return nil, err
		}
		add := []string{c}
		if c == "ALL" {
			add = grantable()
		}
		for _, c := range add {
			if !slices.Contains(set, c) {
				set = append(set, c)
			}
		}
	}
	return set, nil
}

// Tmpfs is docker's --tmpfs PATH[:OPTIONS] mount: noexec, nosuid and nodev
// unless an option says otherwise (exec, suid, dev), then the options.
func Tmpfs(dest, opts string) specs.Mount {
	base := map[string]bool{"noexec": true, "nosuid": true, "nodev": true}
	var extra []string
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "":
		case "exec", "suid", "dev":
			delete(base, "no"+o)
		default:
			extra = append(extra, o)
		}
	}
	var all []string
	for o := range base {
		all = append(all, o)
	}
	sort.Strings(all)
	return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: append(all, extra...)}
}

// ResolveGroups resolves --group-add entries: numbers, or names in the
// /etc/group inside rootfs.
func ResolveGroups(rootfs string, names []string) ([]uint32, error) {
	var groups []groupEntry
	if len(names) > 0 {
		b, _ := readInRoot(rootfs, "/etc/group")
		groups = parseGroup(b)
	}
	var out []uint32
	for _, n := range names {
		if gid, err := strconv.ParseUint(n, 10, 32); err == nil {
			out = append(out, uint32(gid))
			continue
		}
		i := slices.IndexFunc(groups, func(g groupEntry) bool { return g.name == n })
		if i < 0 {
			return nil, errdefs.InvalidArgumentf("Unable to find group %s", n)
		}
		out = append(out, groups[i].gid)
	}
	return out, nil
}

// ShmOption is the size option of the /dev/shm mount for --shm-size bytes.
func ShmOption(size int64) string { return fmt.Sprintf("size=%d", size) }

// CheckSysctl checks a --sysctl KEY=VALUE as docker's client does: only the
// sysctls a container's own namespaces have (IPC's kernel.msg*, kernel.sem,
// kernel.shm*, and net.*, fs.mqueue.*).
func CheckSysctl(kv string) (key, value string, err error) {
	key, value, ok := strings.Cut(kv, "=")
	allowed := false
	switch key {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		allowed = true
	default:
		allowed = strings.HasPrefix(key, "net.") || strings.HasPrefix(key, "fs.mqueue.")
	}
	if !ok || !allowed {
		return "", "", errdefs.InvalidArgumentf("invalid argument %q for \"--sysctl\" flag: sysctl '%s' is not allowed", kv, kv)
	}
	return key, value, nil
}

// CheckHostNetworkSysctls refuses, as docker's daemon does, a net.*
// sysctl for a container in the host's network namespace (it would set
// the host's).
func CheckHostNetworkSysctls(sysctls map[string]string) error {
	keys := slices.Sorted(maps.Keys(sysctls))
	for _, k := range keys {
		if strings.HasPrefix(k, "net.") {
			return errdefs.InvalidArgumentf("sysctl %q not allowed in host network namespace", k)
		}
	}
	return nil
}
