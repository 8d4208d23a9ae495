package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// PidNamespace identifies the pid namespace of process pid (the inode of
// /proc/PID/ns/pid; a zombie still has one).
func PidNamespace(pid int) (uint64, error) {
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return 0, err
	}
	return fi.Sys().(*syscall.Stat_t).Ino, nil
}

// ZombieChildren lists the children of process pid that have exited and
// are not yet reaped.
func ZombieChildren(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		if state, ppid := stateAndParent(c); state == "Z" && ppid == pid {
			out = append(out, c)
		}
	}
	return out
}

// children lists pid's children: from /proc/PID/task/*/children (a
// process's children are listed under the thread that is their parent),
// or, on a kernel without those files, every process whose parent is pid.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if len(tasks) == 0 {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if c, err := strconv.Atoi(e.Name()); err == nil {
				if _, ppid := stateAndParent(c); ppid == pid {
					out = append(out, c)
				}
			}
		}
		return out
	}
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// stateAndParent reads pid's state letter and parent ("", 0 when it is
// gone).
func stateAndParent(pid int) (string, int) {
	_, f, ok := stat(pid)
	if !ok {
		return "", 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return f[0], ppid
}

// Parent is pid's parent process, 0 if pid is gone.
func Parent(pid int) int {
	_, ppid := stateAndParent(pid)
	return ppid
}
