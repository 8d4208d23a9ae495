package fsutil

import (
	"errors"
	"syscall"
)

// ProcessAlive tells whether the process pid, recorded as the owner of a
// leftover (a temporary file or directory named <pid>-..., a lease), is
// running. It cannot tell a reused pid: callers bound that by an age.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
