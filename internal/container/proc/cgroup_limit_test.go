package proc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemoryLimitHit(t *testing.T) {
	for _, tc := range []struct {
		file, text string
		want       bool
	}{
		{"memory.failcnt", "0\n", false},
		{"memory.failcnt", "12\n", true},
		{"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", false},
		{"memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n", true},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := MemoryLimitHit(dir); got != tc.want {
			t.Errorf("%s %q: got %v, want %v", tc.file, tc.text, got, tc.want)
		}
	}
	if MemoryLimitHit("") || MemoryLimitHit(t.TempDir()) {
		t.Error("no cgroup files: limit reported hit")
	}
}
