package fsutil

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// ProcessAlive tells whether the process pid, recorded as the owner of a
// leftover (a temporary file or directory named <pid>-..., a lease), is
// running. A zombie (dead, not yet reaped by its parent) is not. It cannot
// tell a reused pid: callers bound that by an age.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !zombie(pid)
}

// zombie reads the process state from /proc/PID/stat: the field after the
// command name in parentheses (which may itself hold spaces and ')').
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false // no /proc: trust kill(0)
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
