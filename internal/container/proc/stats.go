package proc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Usage is a container's resource use at one moment, as `docker stats`
// shows it (read from its init's cgroups, cgroup v1 or v2, and network
// namespace).
type Usage struct {
	CPUNanos              uint64 // CPU time used so far
	MemUsage, MemLimit    uint64 // bytes; usage without inactive file cache
	NetRx, NetTx          uint64 // bytes, all interfaces but lo
	BlockRead, BlockWrite uint64
	Pids                  uint64
}

// Sample reads pid's resource use.
func Sample(pid int) (Usage, error) {
	var u Usage
	groups, err := cgroupDirs(pid)
	if err != nil {
		return u, err
	}
	if d, ok := groups["cpuacct"]; ok {
		u.CPUNanos = readUint(filepath.Join(d, "cpuacct.usage"))
	} else if d, ok := groups[""]; ok {
		u.CPUNanos = statValue(filepath.Join(d, "cpu.stat"), "usage_usec") * 1000
	}
	if d, ok := groups["memory"]; ok {
		u.MemUsage = sub(readUint(filepath.Join(d, "memory.usage_in_bytes")), statValue(filepath.Join(d, "memory.stat"), "total_inactive_file"))
		u.MemLimit = readUint(filepath.Join(d, "memory.limit_in_bytes"))
	} else if d, ok := groups[""]; ok {
		u.MemUsage = sub(readUint(filepath.Join(d, "memory.current")), statValue(filepath.Join(d, "memory.stat"), "inactive_file"))
		u.MemLimit = readUint(filepath.Join(d, "memory.max")) // "max": 0
	}
	if total := memTotal(); u.MemLimit == 0 || u.MemLimit > total {
		u.MemLimit = total
	}
	if d, ok := groups["pids"]; ok {
		u.Pids = readUint(filepath.Join(d, "pids.current"))
	} else if d, ok := groups[""]; ok {
		u.Pids = readUint(filepath.Join(d, "pids.current"))
	}
	if d, ok := groups["blkio"]; ok {
		u.BlockRead, u.BlockWrite = blkioV1(filepath.Join(d, "blkio.throttle.io_service_bytes"))
	} else if d, ok := groups[""]; ok {
		u.BlockRead, u.BlockWrite = ioStatV2(filepath.Join(d, "io.stat"))
	}
	u.NetRx, u.NetTx = netDev(pid)
	return u, nil
}

// cgroupDirs maps each v1 controller of pid ("" for the v2 group) to its
// directory.
func cgroupDirs(pid int) (map[string]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				out[""] = filepath.Join("/sys/fs/cgroup", parts[2])
			}
			continue
		}
		ctls := strings.Split(parts[1], ",")
		mount := filepath.Join("/sys/fs/cgroup", parts[1])
		if _, err := os.Stat(mount); err != nil {
			mount = filepath.Join("/sys/fs/cgroup", ctls[0])
		}
		for _, c := range ctls {
			out[c] = filepath.Join(mount, parts[2])
		}
	}
	return out, sc.Err()
}

func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// statValue is the value of key in a "key value" per line file.
func statValue(path, key string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == key {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func memTotal() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}

// blkioV1 sums the Read and Write lines of blkio.throttle.io_service_bytes.
func blkioV1(path string) (r, w uint64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		switch f[1] {
		case "Read":
			r += n
		case "Write":
			w += n
		}
	}
	return r, w
}

// ioStatV2 sums rbytes= and wbytes= of io.stat.
func ioStatV2(path string) (r, w uint64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for _, field := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(field, "=")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "rbytes":
			r += n
		case "wbytes":
			w += n
		}
	}
	return r, w
}

// netDev sums received and sent bytes of pid's network namespace, lo
// excepted.
func netDev(pid int) (rx, tx uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		iface, rest, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(iface) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}
