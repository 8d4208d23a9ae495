package proc

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestStartTimeAndTopRow(t *testing.T) {
	if StartTime(os.Getpid()) == 0 {
		t.Fatal("no start time for this process")
	}
	if StartTime(0) != 0 || StartTime(-1) != 0 {
		t.Fatal("start time of no process")
	}
	row, ok := TopRow(os.Getpid())
	if !ok || len(row) != 8 || row[1] != strconv.Itoa(os.Getpid()) || row[0] != strconv.Itoa(os.Getuid()) {
		t.Fatalf("top row: %q %v", row, ok)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("true not runnable")
	}
	if _, ok := TopRow(cmd.Process.Pid); ok {
		t.Fatal("top row of a reaped process")
	}
}

func TestOOMKillsUnknown(t *testing.T) {
	if OOMKills("") != 0 || OOMKills(t.TempDir()) != 0 {
		t.Fatal("kills counted without a counter")
	}
	dir := t.TempDir()
	os.WriteFile(dir+"/memory.events", []byte("low 0\noom 2\noom_kill 3\n"), 0o644)
	if OOMKills(dir) != 3 {
		t.Fatal("memory.events oom_kill not read")
	}
}
