package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildSwapper compiles testdata/swapper statically into a fresh directory
// (bind-mounted read-only into the container) and returns the directory.
func buildSwapper(t *testing.T) string { return buildTestProgram(t, "swapper") }

// buildTestProgram compiles the program testdata/NAME statically into a
// fresh directory of the test (to bind-mount into containers) and returns
// the directory.
func buildTestProgram(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go toolchain to build testdata/%s", name)
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./testdata/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/%s: %v %s", name, err, out)
	}
	return dir
}

// TestCLICpSymlinkExchangeRace is the CVE-2018-15664 attack: a running
// container exchanges a directory /w with a symlink /wlink to a host
// directory in a tight loop while `cp` copies /w/secret out and a file into
// /w/, hundreds of times each way; `export` and `diff` walk the rootfs and
// the upper dir meanwhile, and commit (not paused) too. Nothing may be read from the host directory and
// nothing written into it.
func TestCLICpSymlinkExchangeRace(t *testing.T) {
	root := ctrRoot(t)
	helper := buildSwapper(t)
	hostDir := t.TempDir()
	const secret = "HOST-SECRET-DO-NOT-READ\n"
	if err := os.WriteFile(filepath.Join(hostDir, "secret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	// The real image store, so that commit has somewhere to go.
	hoist := func(args ...string) (string, string, int) { return storeCLI(root, args...) }
	if _, errOut, code := hoist("import", busyboxRootTar(t), "base:1"); code != 0 {
		t.Fatalf("import: %q", errOut)
	}
	_, errOut, code := hoist("run", "-d", "--name", "race", "--network", "none",
		"-v", helper+":/h:ro", "base:1", "/h/swapper", hostDir)
	if code != 0 {
		t.Fatalf("run: %d %q", code, errOut)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, _, c := hoist("exec", "race", "test", "-e", "/ready"); c == 0 {
			break
		}
		if time.Now().After(deadline) {
			logs, _, _ := hoist("logs", "race")
			t.Fatalf("the swapper never got ready: %q", logs)
		}
	}
	hostUnchanged := func(when string) {
		t.Helper()
		ents, err := os.ReadDir(hostDir)
		if err != nil || len(ents) != 1 || ents[0].Name() != "secret" {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("%s: the host directory was written to: %v %q", when, err, names)
		}
		if b, err := os.ReadFile(filepath.Join(hostDir, "secret")); err != nil || string(b) != secret {
			t.Fatalf("%s: the host secret changed: %v %q", when, err, b)
		}
	}

	const rounds = 300
	out := t.TempDir()
	got := 0
	for i := 0; i < rounds; i++ {
		dst := filepath.Join(out, "copy")
		os.Remove(dst)
		if _, _, code := hoist("cp", "race:/w/secret", dst); code != 0 {
			continue // /w was the symlink: no such file inside the container
		}
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatalf("round %d: cp succeeded but left nothing: %v", i, err)
		}
		if string(b) == secret {
			t.Fatalf("round %d: cp read the host's secret through the swapped symlink", i)
		}
		if string(b) != "inside\n" {
			t.Fatalf("round %d: cp read %q", i, b)
		}
		got++
	}
	t.Logf("cp out: %d of %d rounds copied the container's file, none the host's", got, rounds)

	src := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(src, []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	put := 0
	for i := 0; i < rounds; i++ {
		if _, _, code := hoist("cp", src, "race:/w/"); code == 0 {
			put++
		}
		hostUnchanged("cp in")
	}
	t.Logf("cp in: %d of %d rounds succeeded, none wrote on the host", put, rounds)

	// export walks the merged rootfs, diff the upper dir: neither may step
	// through the symlink whatever the swapper does meanwhile.
	for i := 0; i < 20; i++ {
		e := filepath.Join(out, "export.tar")
		if _, errOut, code := hoist("export", "-o", e, "race"); code != 0 {
			t.Logf("export round %d: %q", i, errOut)
			continue
		}
		b, _ := os.ReadFile(e)
		if bytes.Contains(b, []byte(strings.TrimSpace(secret))) {
			t.Fatalf("export round %d: the tar holds the host's secret", i)
		}
		if d, errOut, code := hoist("diff", "race"); code != 0 || !strings.Contains(d, "A /wlink\n") {
			t.Fatalf("diff round %d: %d %q %q", i, code, d, errOut)
		}
	}
	// commit without pausing walks the upper dir while it changes.
	for i := 0; i < 5; i++ {
		if _, errOut, code := hoist("commit", "--pause=false", "race", fmt.Sprintf("raced:%d", i)); code != 0 {
			t.Fatalf("commit round %d: %q", i, errOut)
		}
	}
	var saved bytes.Buffer
	e := &env{in: strings.NewReader(""), out: &saved, errOut: io.Discard}
	if code := execute(context.Background(), e, []string{"--root", root, "save", "raced:0", "raced:1", "raced:2", "raced:3", "raced:4"}); code != 0 {
		t.Fatal("save of the committed images failed")
	}
	if bytes.Contains(saved.Bytes(), []byte(strings.TrimSpace(secret))) {
		t.Fatal("a committed layer holds the host's secret")
	}
	hoist("rm", "-f", "race")
	for i := 0; i < 5; i++ {
		hoist("rmi", fmt.Sprintf("raced:%d", i))
	}
	hostUnchanged("the end")
}
