package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// history shows image IDs on the rows of the images of the parent chain
// (each on its own newest history entry) and <missing> on the steps a
// build made no image for; docker's classic builder, which makes an image
// per step, shows the same images on the same rows.
func TestHistoryIDsOnParentChainRows(t *testing.T) {
	h := hoistRunner{t: t, bin: hoistBinary(t), root: t.TempDir()}
	base := "hoist-test-hist-base:" + strings.ToLower(filepath.Base(h.root))
	baseID := strings.TrimSpace(h.must(busyboxTar(t), "import", "-", base))
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("f", "f\n")
	write("g", "g\n")
	write("Dockerfile.1", "FROM "+base+"\nCOPY f /f\nENV X=1\nLABEL l=1\n")
	write("Dockerfile.2", "FROM app1\nENV Y=2\nCOPY g /g\n")
	build := func(run func(args ...string) string) (string, string) {
		run("build", "-q", "-t", "app1", "-f", filepath.Join(dir, "Dockerfile.1"), dir)
		run("build", "-q", "-t", "app2", "-f", filepath.Join(dir, "Dockerfile.2"), dir)
		id := func(ref string) string { return strings.TrimSpace(run("image", "inspect", "-f", "{{.Id}}", ref)) }
		return id("app1"), id("app2")
	}
	hoist := func(args ...string) string { return h.must(nil, args...) }
	app1, app2 := build(hoist)
	got := strings.Fields(h.must(nil, "history", "-q", "--no-trunc", "app2"))
	want := []string{app2, "<missing>", app1, "<missing>", "<missing>", baseID}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("history of app2:\n%v\nwant\n%v", got, want)
	}
	if got := strings.Fields(h.must(nil, "history", "-q", "--no-trunc", "app1")); strings.Join(got, " ") != strings.Join(want[2:], " ") {
		t.Fatalf("history of app1: %v", got)
	}

	if testing.Short() || !dockerAnswers() {
		t.Log("docker not available: compared with the expected rows only")
		return
	}
	// The same base image (its ID is its config's digest) and Dockerfiles
	// in docker's classic builder.
	var saved bytes.Buffer
	cmd := exec.Command(h.bin, "--root", h.root, "save", base)
	cmd.Stdout = &saved
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	load := exec.Command("docker", "load")
	load.Stdin = &saved
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("docker load: %v %s", err, out)
	}
	tag := strings.TrimPrefix(base, "hoist-test-hist-base:")
	t.Cleanup(func() {
		exec.Command("docker", "rmi", "-f", "hoist-test-hist-app2:"+tag, "hoist-test-hist-app1:"+tag, base).Run()
	})
	write("Dockerfile.2", "FROM hoist-test-hist-app1:"+tag+"\nENV Y=2\nCOPY g /g\n")
	docker := func(args ...string) string {
		t.Helper()
		if args[0] == "build" {
			for i, a := range args {
				if a == "app1" || a == "app2" {
					args[i] = "hoist-test-hist-" + a + ":" + tag
				}
			}
		} else if last := len(args) - 1; args[last] == "app1" || args[last] == "app2" {
			args[last] = "hoist-test-hist-" + args[last] + ":" + tag
		}
		c := exec.Command("docker", args...)
		c.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		out, err := c.Output()
		if err != nil {
			t.Fatalf("docker %v: %v", args, err)
		}
		return string(out)
	}
	dapp1, dapp2 := build(docker)
	drows := strings.Fields(docker("history", "-q", "--no-trunc", "app2"))
	if len(drows) != len(want) {
		t.Fatalf("docker's history has %d rows: %v", len(drows), drows)
	}
	for i, w := range []string{dapp2, "", dapp1, "", "", baseID} {
		if w != "" && drows[i] != w {
			t.Errorf("docker's row %d is %s, hoist's %s (docker: %v)", i, drows[i], got[i], drows)
		}
	}
}
