package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExitCode(t *testing.T) {
	for msg, want := range map[string]int{
		`exec: "nosuch": executable file not found in $PATH`: 127,
		"open /x: no such file or directory":                 127,
		"exec /etc: Permission denied":                       126,
		"exec format error":                                  126,
		"cgroup setup failed":                                125,
	} {
		if got := ExitCode(msg); got != want {
			t.Errorf("%q: %d, want %d", msg, got, want)
		}
	}
}

func TestLastError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runtime.log")
	log := `{"level":"info","msg":"starting"}` + "\n" +
		`{"level":"error","msg":"first"}` + "\n" +
		"not json\n" +
		`{"level":"fatal","msg":"last"}` + "\n"
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := LastError(p, "fallback"); got != "last" {
		t.Errorf("from log: %q", got)
	}
	if got := LastError(filepath.Join(t.TempDir(), "none"), " fallback\n"); got != "fallback" {
		t.Errorf("fallback: %q", got)
	}
	if got := LastError("", ""); got != "unknown runtime error" {
		t.Errorf("nothing: %q", got)
	}
}
