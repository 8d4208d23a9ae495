package container

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func unixSignalName(s syscall.Signal) string {
	n := unix.SignalName(s)
	return strings.TrimPrefix(n, "SIG")
}
