package proc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MemoryCgroup returns the directory of pid's memory cgroup (v1 memory
// controller, else the v2 unified group), "" if unknown.
func MemoryCgroup(pid int) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	defer f.Close()
	v2 := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			if ctl == "memory" {
				return filepath.Join("/sys/fs/cgroup/memory", parts[2])
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = filepath.Join("/sys/fs/cgroup", parts[2])
		}
	}
	if v2 != "" {
		if _, err := os.Stat(filepath.Join(v2, "memory.events")); err == nil {
			return v2
		}
	}
	return ""
}

// OOMKills reads the OOM-kill counter of a memory cgroup directory.
func OOMKills(dir string) int {
	if dir == "" {
		return 0
	}
	for _, name := range []string{"memory.oom_control", "memory.events"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return int(statValue(filepath.Join(dir, name), "oom_kill"))
		}
	}
	return 0
}

// MemoryLimitHit reports whether the memory cgroup dir ever reached its
// limit (v1 memory.failcnt, v2 the "max" count of memory.events): a
// SIGKILLed process there was most likely the OOM killer's victim.
func MemoryLimitHit(dir string) bool {
	if dir == "" {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.failcnt")); err == nil {
		return readUint(filepath.Join(dir, "memory.failcnt")) > 0
	}
	return statValue(filepath.Join(dir, "memory.events"), "max") > 0
}

// ContainerMemoryCgroup finds the memory cgroup of a container whose
// process is pid and whose spec names the cgroup name: from /proc while
// the process lives, else (it may already have been OOM-killed) the
// cgroup named name. own reports whether the directory is the container's
// own cgroup rather than one it shares.
func ContainerMemoryCgroup(pid int, name string) (dir string, own bool) {
	if d := MemoryCgroup(pid); d != "" {
		return d, filepath.Base(d) == name
	}
	for _, d := range []string{filepath.Join("/sys/fs/cgroup/memory", name), filepath.Join("/sys/fs/cgroup", name)} {
		if _, err := os.Stat(d); err == nil {
			return d, true
		}
	}
	return "", false
}
