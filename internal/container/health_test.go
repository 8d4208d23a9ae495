package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/container/proc"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/testutil"
)

// TestRemoveWithOrphanedProbe: a health probe's process whose runtime
// died (runc exec leaves the process it was starting when its setup fails,
// as when the container is killed meanwhile) is inherited by the monitor,
// a subreaper. Once the container is killed it is a zombie of the
// container's pid namespace, whose init cannot finish exiting until it is
// reaped: rm -f used to wait 30 s and fail ("did not stop after SIGKILL"),
// the monitor stuck for good and the rootfs left mounted. Here the probe's
// runtime is killed once the probe runs, which orphans it the same way.
func TestRemoveWithOrphanedProbe(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest",
		Config: Config{Cmd: []string{"sleep", "1000"},
			Healthcheck: &HealthConfig{Test: []string{"CMD", "sleep", "1001"}, Interval: time.Millisecond, Timeout: time.Hour}},
		HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, c.ID, StartOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	mon := got.State.MonitorPid
	t.Cleanup(func() {
		if t.Failed() && proc.StartTime(mon) == got.State.MonitorStart {
			unix.Kill(mon, unix.SIGKILL) // stuck: its zombies go to init
		}
	})
	var probe int
	testutil.WaitFor(t, "the probe to run", func() bool {
		probe = findProcess(func(pid int, args string) bool {
			rt := proc.Parent(pid)
			return args == "sleep 1001" && proc.Parent(rt) == mon && strings.Contains(cmdline(rt), " exec ")
		})
		return probe != 0
	})
	if err := unix.Kill(proc.Parent(probe), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the probe to be the monitor's", func() bool { return proc.Parent(probe) == mon })
	if err := m.Remove(ctx, c.ID, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if mps, _ := mount.MountPoints(c.dir); len(mps) > 0 {
		t.Errorf("still mounted: %v", mps)
	}
}

// TestExecKilledWhenCancelledBeforeItRuns: an exec with KillOnCancel (a
// health probe) whose context ends while the runtime is still setting the
// process up (no pid file yet: a slow runtime, a loaded host) is killed
// once it runs. It used to be left running (a probe past its timeout
// running on for as long as its command).
func TestExecKilledWhenCancelledBeforeItRuns(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	// A runtime that holds every exec until the gate file exists.
	dir := t.TempDir()
	rt := filepath.Join(dir, "gated-runc")
	script := fmt.Sprintf("#!/bin/sh\nfor a; do\n\tif [ \"$a\" = exec ]; then\n\t\t: > %[1]s/waiting\n"+
		"\t\twhile [ ! -e %[1]s/gate ]; do sleep 0.01; done\n\t\tbreak\n\tfi\ndone\nexec runc \"$@\"\n", dir)
	if err := os.WriteFile(rt, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"sleep", "1000"}},
		HostConfig: HostConfig{NetworkMode: "none", Runtime: rt}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, c.ID, StartOptions{}); err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithCancel(ctx)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := m.Exec(ectx, c.ID, ExecOptions{Cmd: []string{"sleep", "1002"}, KillOnCancel: true}, &attach.Streams{})
		done <- result{code, err}
	}()
	testutil.WaitFor(t, "the runtime to be starting the exec", func() bool {
		_, err := os.Stat(filepath.Join(dir, "waiting"))
		return err == nil
	})
	cancel() // the process is not started yet: no pid file
	if err := os.WriteFile(filepath.Join(dir, "gate"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var r result
	testutil.WaitFor(t, "the exec to end", func() bool {
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if r.err != nil || r.code != 137 {
		t.Fatalf("exec: %d %v, want killed (137)", r.code, r.err)
	}
}

// findProcess returns the first process whose pid and command line (its
// arguments joined by spaces) match, 0 if none does.
func findProcess(match func(pid int, args string) bool) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && match(pid, cmdline(pid)) {
			return pid
		}
	}
	return 0
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
