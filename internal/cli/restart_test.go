package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/testutil"
)

// restartHarness is the real binary on a fresh root with a busybox image
// (bb:1); every container is removed and every monitor gone at the end.
func restartHarness(t *testing.T) hoistRunner {
	t.Helper()
	needContainers(t)
	root := t.TempDir()
	h := hoistRunner{t: t, bin: hoistBinary(t), root: root}
	h.must(busyboxTar(t), "import", "-", "bb:1")
	t.Cleanup(func() {
		out, _, _ := h.run(nil, "ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			h.run(nil, "rm", "-f", id)
		}
		waitMonitors(t, root)
		if n := containerDirs(root); n > 0 {
			t.Errorf("orphan container dirs: %d", n)
		}
	})
	return h
}

// inspectF is `inspect -f format name`, trimmed.
func (h hoistRunner) inspectF(format, name string) string {
	h.t.Helper()
	return strings.TrimSpace(h.must(nil, "inspect", "-f", format, name))
}

func (h hoistRunner) restartCount(name string) int {
	h.t.Helper()
	n, err := strconv.Atoi(h.inspectF("{{.RestartCount}}", name))
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// monitorPid is the pid of the monitor the state of container name records.
func (h hoistRunner) monitorPid(name string) int {
	h.t.Helper()
	id := h.inspectF("{{.Id}}", name)
	b, err := os.ReadFile(filepath.Join(h.root, "containers", id, "state.json"))
	if err != nil {
		h.t.Fatal(err)
	}
	var st struct{ MonitorPid int }
	if err := json.Unmarshal(b, &st); err != nil {
		h.t.Fatal(err)
	}
	return st.MonitorPid
}

// A trap so that the stop signal ends the container at once (its shell is
// pid 1, which has no default action for SIGTERM).
const trapLoop = `trap "exit 0" TERM; while :; do sleep 0.1; done`

// A crashing container is restarted by its monitor, with docker's
// restarting state between runs; on-failure:2 stops after two restarts;
// a clean exit is not restarted under on-failure.
func TestRestartPolicyRestartsCrashes(t *testing.T) {
	h := restartHarness(t)
	h.must(nil, "run", "-d", "--name", "crash", "--network", "none", "--restart", "always", "bb:1", "sh", "-c", "echo run; exit 3")
	sawRestarting := false
	testutil.WaitFor(t, "three restarts", func() bool {
		if st := h.must(nil, "ps", "--filter", "name=crash", "--format", "{{.Status}}"); strings.HasPrefix(st, "Restarting (3) ") {
			sawRestarting = true
		}
		return h.restartCount("crash") >= 3
	})
	testutil.WaitFor(t, "the restarting state shown by ps", func() bool {
		st := h.must(nil, "ps", "--filter", "name=crash", "--format", "{{.Status}}")
		sawRestarting = sawRestarting || strings.HasPrefix(st, "Restarting (3) ")
		return sawRestarting
	})
	if got := h.inspectF("{{json .HostConfig.RestartPolicy}}", "crash"); got != `{"Name":"always","MaximumRetryCount":0}` {
		t.Errorf("RestartPolicy: %s", got)
	}
	if out := h.must(nil, "logs", "crash"); strings.Count(out, "run\n") < 3 {
		t.Errorf("logs of the runs: %q", out)
	}

	h.must(nil, "run", "-d", "--name", "of2", "--network", "none", "--restart", "on-failure:2", "bb:1", "sh", "-c", "echo run; exit 3")
	testutil.WaitFor(t, "on-failure:2 to give up", func() bool { return h.inspectF("{{.State.Status}}", "of2") == "exited" })
	if n := h.restartCount("of2"); n != 2 {
		t.Errorf("on-failure:2 restarted %d times", n)
	}
	if out := h.must(nil, "logs", "of2"); out != "run\nrun\nrun\n" {
		t.Errorf("on-failure:2 logs: %q", out)
	}
	if got := h.inspectF("{{.State.ExitCode}} {{json .HostConfig.RestartPolicy}}", "of2"); got != `3 {"Name":"on-failure","MaximumRetryCount":2}` {
		t.Errorf("on-failure:2 inspect: %s", got)
	}

	h.must(nil, "run", "-d", "--name", "ok", "--network", "none", "--restart", "on-failure", "bb:1", "true")
	testutil.WaitFor(t, "the clean exit", func() bool { return h.inspectF("{{.State.Status}}", "ok") == "exited" })
	if n := h.restartCount("ok"); n != 0 {
		t.Errorf("exit 0 under on-failure restarted %d times", n)
	}
}

// A user's stop ends the restarts, also of a container waiting to be
// restarted; restore brings back always (docker's daemon restart does)
// but not a stopped unless-stopped container.
func TestRestartPolicyStopKeepsStopped(t *testing.T) {
	h := restartHarness(t)
	h.must(nil, "run", "-d", "--name", "us", "--network", "none", "--restart", "unless-stopped", "bb:1", "sh", "-c", trapLoop)
	h.must(nil, "run", "-d", "--name", "al", "--network", "none", "--restart", "always", "bb:1", "sh", "-c", trapLoop)
	h.must(nil, "run", "-d", "--name", "crash", "--network", "none", "--restart", "always", "bb:1", "false")
	testutil.WaitFor(t, "a restart", func() bool { return h.restartCount("crash") >= 1 })
	for _, name := range []string{"us", "al", "crash"} {
		if out := h.must(nil, "stop", name); out != name+"\n" {
			t.Errorf("stop %s: %q", name, out)
		}
		if st := h.inspectF("{{.State.Status}} {{.State.Restarting}}", name); st != "exited false" {
			t.Errorf("%s after stop: %s", name, st)
		}
	}
	waitMonitors(t, h.root) // nothing is left to restart them
	// (restore brings back the always ones, newest first, as dockerd does)
	if out := h.must(nil, "system", "restore"); out != "crash\nal\n" {
		t.Errorf("restore after stop: %q (want the always ones)", out)
	}
	if st := h.inspectF("{{.State.Status}}", "us"); st != "exited" {
		t.Errorf("unless-stopped after restore: %s", st)
	}
	if st := h.inspectF("{{.State.Status}}", "al"); st != "running" {
		t.Errorf("always after restore: %s", st)
	}
	// kill (any signal) ends the restarts too; a later start forgets it.
	h.must(nil, "kill", "al")
	testutil.WaitFor(t, "al to exit", func() bool { return h.inspectF("{{.State.Status}}", "al") == "exited" })
	h.must(nil, "start", "us")
	if st := h.inspectF("{{.State.Status}} {{.RestartCount}}", "us"); st != "running 0" {
		t.Errorf("unless-stopped after start: %s", st)
	}
}

// kill -9 of the monitor leaves the container unmonitored (no restarts);
// `system restore` puts it under a new monitor that restarts it again.
func TestRestartPolicyRestoreAfterMonitorKilled(t *testing.T) {
	h := restartHarness(t)
	h.must(nil, "run", "-d", "--name", "srv", "--network", "none", "--restart", "always", "bb:1", "sh", "-c", trapLoop)
	h.must(nil, "run", "-d", "--name", "crash", "--network", "none", "--restart", "always", "bb:1", "false")
	testutil.WaitFor(t, "a restart", func() bool { return h.restartCount("crash") >= 1 })
	for _, name := range []string{"srv", "crash"} {
		pid := h.monitorPid(name)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Dead, or a zombie of this test process (a subreaper once an
		// in-process exec -t ran): either way no longer a monitor.
		testutil.WaitFor(t, "the monitor to die", func() bool { return !fsutil.ProcessAlive(pid) })
	}
	if st := h.inspectF("{{.State.Status}}", "srv"); st != "running" {
		t.Errorf("unmonitored srv: %s", st)
	}
	if st := h.inspectF("{{.State.Status}}", "crash"); st != "exited" {
		t.Errorf("crash without monitor: %s", st)
	}
	out := h.must(nil, "system", "restore")
	if lines := strings.Fields(out); len(lines) != 2 {
		t.Fatalf("restore: %q", out)
	}
	before := h.restartCount("crash")
	testutil.WaitFor(t, "crash restarted by its new monitor", func() bool { return h.restartCount("crash") > before })
	// srv runs under a new monitor: a crash of its process is restarted.
	pid, _ := strconv.Atoi(h.inspectF("{{.State.Pid}}", "srv"))
	if pid <= 0 || syscall.Kill(pid, syscall.SIGKILL) != nil {
		t.Fatalf("srv's pid %d", pid)
	}
	testutil.WaitFor(t, "srv restarted", func() bool { return h.restartCount("srv") == 1 })
	testutil.WaitFor(t, "srv running again", func() bool { return h.inspectF("{{.State.Status}}", "srv") == "running" })
	if out := h.must(nil, "system", "restore"); out != "" {
		t.Errorf("second restore: %q", out)
	}
}

// --restart's flag checks and messages are docker's; update --restart
// changes the policy the monitor applies at the next exit.
func TestRestartPolicyFlags(t *testing.T) {
	h := restartHarness(t)
	for _, c := range []struct{ policy, err string }{
		{"always:3", "maximum retry count cannot be used with restart policy 'always'"},
		{"on-failure:x", "invalid restart policy format: maximum retry count must be an integer"},
		{"on-failure:-1", "maximum retry count cannot be negative"},
		{"foo", "invalid restart policy 'foo'"},
	} {
		if _, errOut, code := h.run(nil, "create", "--restart", c.policy, "bb:1"); code == 0 || !strings.Contains(errOut, c.err) {
			t.Errorf("create --restart %s: %d %q", c.policy, code, errOut)
		}
	}
	if _, errOut, code := h.run(nil, "run", "--rm", "--restart", "always", "bb:1", "true"); code != 125 || !strings.Contains(errOut, "conflicting options: cannot specify both --restart and --rm") {
		t.Errorf("run --rm --restart: %d %q", code, errOut)
	}
	h.must(nil, "run", "-d", "--name", "up", "--network", "none", "bb:1", "sh", "-c", trapLoop)
	if got := h.inspectF("{{json .HostConfig.RestartPolicy}}", "up"); got != `{"Name":"no","MaximumRetryCount":0}` {
		t.Errorf("default policy: %s", got)
	}
	h.must(nil, "update", "--restart", "on-failure:1", "up")
	if got := h.inspectF("{{json .HostConfig.RestartPolicy}}", "up"); got != `{"Name":"on-failure","MaximumRetryCount":1}` {
		t.Errorf("updated policy: %s", got)
	}
	if _, errOut, code := h.run(nil, "update", "--restart", "always:2", "up"); code == 0 || !strings.Contains(errOut, "maximum retry count cannot be used with restart policy 'always'") {
		t.Errorf("update --restart always:2: %d %q", code, errOut)
	}
	pid, _ := strconv.Atoi(h.inspectF("{{.State.Pid}}", "up"))
	if pid <= 0 || syscall.Kill(pid, syscall.SIGKILL) != nil {
		t.Fatalf("pid %d", pid)
	}
	testutil.WaitFor(t, "the restart update asked for", func() bool { return h.restartCount("up") == 1 })
	testutil.WaitFor(t, "running again", func() bool { return h.inspectF("{{.State.Status}}", "up") == "running" })
	h.must(nil, "run", "-d", "--rm", "--name", "auto", "--network", "none", "bb:1", "sh", "-c", trapLoop)
	if _, errOut, code := h.run(nil, "update", "--restart", "always", "auto"); code == 0 || !strings.Contains(errOut, "Restart policy cannot be updated because AutoRemove is enabled for the container") {
		t.Errorf("update --restart of an --rm container: %d %q", code, errOut)
	}
}
