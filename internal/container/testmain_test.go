package container

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary act as hoist's monitor and init, the way the
// real binary re-executes itself.
func TestMain(m *testing.M) {
	switch os.Getenv("HOIST_TEST_SELF") {
	case "monitor":
		a := os.Args[1:]
		if a[2] == ExecMonitorVerb { // --root R exec-monitor ARGS...
			os.Exit(RunExecMonitor(a[3:]))
		}
		// --root R container-monitor ID
		mgr, err := New(a[1], Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(125)
		}
		if err := mgr.RunMonitor(context.Background(), a[3], os.NewFile(3, "sync")); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Containers on the default network use slirp4netns here: the bridge
	// transport would make interfaces and rules on the host's network.
	if os.Getenv("HOIST_NETWORK_TRANSPORT") == "" {
		os.Setenv("HOIST_NETWORK_TRANSPORT", "slirp4netns")
	}
	code := m.Run()
	if rootfsDir != "" {
		os.RemoveAll(rootfsDir)
	}
	os.Exit(code)
}

// busyboxRootfs builds a busybox root filesystem in a new directory.
func busyboxRootfs(t testing.TB, dir string) string {
	t.Helper()
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Skip("busybox not installed (busybox-static)")
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "proc", "sys", "dev"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range strings.Fields(string(out)) {
		if app == "bin/busybox" {
			continue
		}
		p := filepath.Join(dir, app)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.Symlink("/bin/busybox", p)
	}
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000:alice:/home/alice:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nalice:x:1000:\nstaff:x:50:alice\nnogroup:x:65534:\n"), 0o644)
	return dir
}
