// secprobe tries, from inside a container, what docker's default
// confinement forbids, and prints one "CHECK: RESULT" line per check
// (RESULT is "ok" or the errno's name). The container tests build it
// statically and bind-mount it in.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "escape-child" {
		os.Exit(escapeChild())
	}
	for _, c := range os.Args[1:] {
		fmt.Printf("%s: %s\n", c, result(check(c)))
	}
}

func result(err error) string {
	var en unix.Errno
	if errors.As(err, &en) {
		return unix.ErrnoName(en)
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func sys(trap uintptr, a ...uintptr) error {
	a = append(a, 0, 0, 0, 0, 0, 0)
	if _, _, e := unix.Syscall6(trap, a[0], a[1], a[2], a[3], a[4], a[5]); e != 0 {
		return e
	}
	return nil
}

func check(c string) error {
	switch c {
	case "keyctl":
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_USER_KEYRING, 0, 0, 0)
		return err
	case "add_key":
		_, err := unix.AddKey("user", "hoist-probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	case "request_key":
		_, err := unix.RequestKey("user", "hoist-probe-missing", "", unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	case "personality":
		return sys(unix.SYS_PERSONALITY, 0x0400000) // READ_IMPLIES_EXEC
	case "mbind":
		return sys(unix.SYS_MBIND)
	case "kexec_load":
		return sys(unix.SYS_KEXEC_LOAD)
	case "init_module":
		return sys(unix.SYS_INIT_MODULE)
	case "open_by_handle_at":
		return sys(unix.SYS_OPEN_BY_HANDLE_AT)
	case "clock_settime":
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
			return err
		}
		return sys(unix.SYS_CLOCK_SETTIME, unix.CLOCK_REALTIME, uintptr(unsafe.Pointer(&ts))) // the time it is

	case "quotactl":
		return sys(unix.SYS_QUOTACTL)
	case "userns":
		// A user, mount and cgroup namespace: with them the process could
		// mount its cgroup and lift its own limits.
		cmd := exec.Command("/proc/self/exe", "escape-child")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWCGROUP,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		}
		return cmd.Run()
	case "alloc300":
		b := make([]byte, 300<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		return nil
	}
	return fmt.Errorf("unknown check %q", c)
}

// escapeChild runs in the new namespaces: it mounts the memory cgroup
// and raises its own limit to 1 GiB.
func escapeChild() int {
	os.MkdirAll("/tmp/cg", 0o755)
	if err := unix.Mount("none", "/tmp/cg", "cgroup", 0, "memory"); err != nil {
		fmt.Println("mount cgroup:", err)
		return 1
	}
	if err := os.WriteFile("/tmp/cg/memory.limit_in_bytes", []byte("1073741824"), 0); err != nil {
		fmt.Println("raise limit:", err)
		return 1
	}
	fmt.Println("limit raised")
	return 0
}
