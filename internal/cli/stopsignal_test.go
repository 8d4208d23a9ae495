package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/testutil"
)

// stop sends the image's STOPSIGNAL, whatever docker's table names it by
// (SIGRTMIN+3 here, signal 37): the container traps it and exits 0; a
// SIGTERM instead would make it exit 1. A --stop-signal outside the table
// is refused at create, as docker's daemon does.
func TestCLIStopSendsImageStopSignal(t *testing.T) {
	root := ctrRoot(t)
	bin := hoistBinary(t)
	hoist := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"--root", root}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := hoist("import", busyboxRootTar(t), "busybox"); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nSTOPSIGNAL SIGRTMIN+3\n"), 0o644)
	if out, err := hoist("build", "-q", "-t", "stopsig", ctx); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	if out, _ := hoist("inspect", "-f", "{{.Config.StopSignal}}", "stopsig"); out != "SIGRTMIN+3\n" {
		t.Fatalf("image StopSignal: %q", out)
	}
	script := `trap "echo got-37; exit 0" 37; trap "echo got-term; exit 1" TERM; echo ready; while :; do sleep 0.05; done`
	if out, err := hoist("run", "-d", "--name", "stopper", "--network", "none", "stopsig", "sh", "-c", script); err != nil {
		t.Fatalf("run: %v %s", err, out)
	}
	testutil.WaitFor(t, "the container to set its traps", func() bool {
		out, _ := hoist("logs", "stopper")
		return out == "ready\n"
	})
	if out, err := hoist("stop", "-t", "60", "stopper"); err != nil || out != "stopper\n" {
		t.Fatalf("stop: %v %q", err, out)
	}
	logs, _ := hoist("logs", "stopper")
	code, _ := hoist("inspect", "-f", "{{.State.ExitCode}}", "stopper")
	if logs != "ready\ngot-37\n" || code != "0\n" {
		t.Fatalf("stop sent the wrong signal: logs %q, exit code %q", logs, strings.TrimSpace(code))
	}

	out, err := hoist("create", "--stop-signal", "SIGNOPE", "busybox", "true")
	if err == nil || !strings.Contains(out, "Invalid signal: SIGNOPE") {
		t.Fatalf("create --stop-signal SIGNOPE: %v %q", err, out)
	}
	if out, err := hoist("create", "--name", "rt", "--stop-signal", "RTMAX-2", "busybox", "true"); err != nil {
		t.Fatalf("create --stop-signal RTMAX-2: %v %q", err, out)
	}
}
