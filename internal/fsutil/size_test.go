package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirSize(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(d, "x"), make([]byte, 100), 0o644)
	os.WriteFile(filepath.Join(d, "a", "b", "y"), make([]byte, 23), 0o644)
	os.Symlink("x", filepath.Join(d, "link")) // not a regular file: not counted
	if n := DirSize(d); n != 123 {
		t.Fatalf("DirSize = %d, want 123", n)
	}
	if n := DirSize(filepath.Join(d, "missing")); n != 0 {
		t.Fatalf("DirSize of a missing dir = %d", n)
	}
}
