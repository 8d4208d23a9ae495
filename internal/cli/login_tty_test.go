package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoginPromptsOnTTY runs the binary under script(1) so that stdin is a
// terminal: login asks for the username and the password (not echoed).
func TestLoginPromptsOnTTY(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not installed (bsdutils)")
	}
	dir := dockerConfigDir(t)
	reg := basicRegistry(t)
	bin := hoistBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", bin+" --root "+t.TempDir()+" login "+reg, "/dev/null")
	cmd.Stdin = strings.NewReader("alice\npw\n")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir, "HOIST_CONFIG="+filepath.Join(dir, "none.json"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("login on a tty: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "Username: ") || !strings.Contains(s, "Password: ") || !strings.Contains(s, "Login Succeeded") {
		t.Fatalf("output: %q", s)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !strings.Contains(string(b), "YWxpY2U6cHc=") {
		t.Fatalf("credentials not saved: %s", b)
	}
}
