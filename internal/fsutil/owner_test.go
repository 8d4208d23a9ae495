package fsutil

import (
	"os"
	"os/exec"
	"testing"

	"github.com/hoistproject/hoist/internal/testutil"
)

// A dead process its parent has not reaped yet (a zombie) is not alive:
// a long-lived parent that never waits for an orphan it inherited as a
// subreaper must not keep its locks and leftovers alive forever.
func TestProcessAliveZombie(t *testing.T) {
	if !ProcessAlive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	pid := cmd.Process.Pid
	if !ProcessAlive(pid) {
		t.Fatal("a running child is not alive")
	}
	cmd.Process.Kill()
	// Not reaped yet: the kernel keeps it as a zombie until Wait.
	testutil.WaitFor(t, "the killed child to be a zombie", func() bool { return zombie(pid) })
	if ProcessAlive(pid) {
		t.Error("a zombie is alive")
	}
	cmd.Wait()
	if ProcessAlive(pid) {
		t.Error("a reaped process is alive")
	}
	if ProcessAlive(0) || ProcessAlive(-1) {
		t.Error("pid <= 0 alive")
	}
}
