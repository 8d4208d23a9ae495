package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// StartTime returns the start time (clock ticks since boot) of pid, 0 if it
// does not exist.
func StartTime(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	_, f, ok := stat(pid)
	if !ok || f[0] == "Z" || f[0] == "X" {
		return 0
	}
	var v uint64
	fmt.Sscan(f[19], &v)
	return v
}

// stat reads /proc/PID/stat: the command name and the fields after it
// (f[0] is the state letter, f[1] the parent, f[19] the start time);
// false if pid is gone.
func stat(pid int) (comm string, f []string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", nil, false
	}
	f = strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", nil, false
	}
	return strings.Trim(s[strings.IndexByte(s, '(')+1:i], " "), f, true
}

const clockTicks = 100.0 // USER_HZ on Linux

// TopRow is `docker top`'s row of process pid: UID PID PPID C STIME TTY
// TIME CMD; false if it is gone.
func TopRow(pid int) ([]string, bool) {
	comm, f, ok := stat(pid)
	if !ok {
		return nil, false
	}
	ppid := f[1]
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	start, _ := strconv.ParseFloat(f[19], 64)
	cpu := int((utime + stime) / clockTicks)
	uid := "?"
	if st, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			uid = strconv.Itoa(int(sys.Uid))
		}
	}
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	startTime := time.Now().Add(-time.Duration(float64(si.Uptime)-start/clockTicks) * time.Second)
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	cmd := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if cmd == "" {
		cmd = "[" + comm + "]"
	}
	return []string{uid, strconv.Itoa(pid), ppid, "0", startTime.Format("15:04"), "?",
		fmt.Sprintf("%02d:%02d:%02d", cpu/3600, cpu/60%60, cpu%60), cmd}, true
}
