package container

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/mount"
)

// TestCrunRuntime runs containers with `--runtime crun`: foreground output
// and exit codes, docker's 127 for a missing command, a cgroup limit, and a
// detached container through exec, pause, stop and rm. On a hybrid cgroup
// host whose cgroup2 hierarchy has controllers crun refuses to start
// anything; hoist then runs it without that hierarchy (runtimeCommand).
func TestCrunRuntime(t *testing.T) {
	crun, err := exec.LookPath("crun")
	if err != nil {
		t.Skip("crun not installed")
	}
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	hc := HostConfig{Runtime: crun, NetworkMode: "none"}
	out, errOut, code, err := runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}, HostConfig: hc})
	if err != nil || code != 3 || out != "out\n" || errOut != "err\n" {
		t.Fatalf("exit 3 with crun: %q %q %d %v", out, errOut, code, err)
	}
	_, _, _, err = runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"nosuchcmd"}}, HostConfig: hc})
	var se *StartError
	if !errors.As(err, &se) || se.Code != 127 {
		t.Fatalf("not found with crun: %v", err)
	}
	limited := hc
	limited.Memory = 64 << 20
	out, _, code, err = runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"}}, HostConfig: limited})
	if err != nil || code != 0 || out != "67108864\n" {
		t.Fatalf("memory limit with crun: %q %d %v", out, code, err)
	}

	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"sleep", "1000"}}, HostConfig: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, c.ID, StartOptions{}); err != nil {
		t.Fatal(err)
	}
	var eo bytes.Buffer
	if code, err := m.Exec(ctx, c.ID, ExecOptions{Cmd: []string{"sh", "-c", "echo in-exec"}}, &attach.Streams{Stdout: &eo}); err != nil || code != 0 || eo.String() != "in-exec\n" {
		t.Fatalf("exec with crun: %d %v %q", code, err, eo.String())
	}
	if err := m.Pause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, c.ID); got.State.Status != StatusPaused {
		t.Fatalf("pause with crun: %s", got.State.Status)
	}
	if err := m.Unpause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	zero := 0
	if err := m.Stop(ctx, c.ID, &zero); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Get(ctx, c.ID)
	if got.State.Status != StatusExited || got.State.ExitCode != 137 {
		t.Fatalf("after stop: %+v", got.State)
	}
	if err := m.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	// Nothing of the container is left: mounts, crun's record, the cgroup.
	if mps, _ := mount.MountPoints(got.dir); len(mps) != 0 {
		t.Fatalf("mounts left: %v", mps)
	}
	ents, _ := os.ReadDir(m.runtimeRoot(crun))
	for _, e := range ents {
		if strings.HasPrefix(c.ID, e.Name()) || e.Name() == c.ID {
			t.Errorf("crun record left: %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", "hoist-"+c.ID)); err == nil {
		t.Errorf("cgroup of %s left", c.ID)
	}
}
