package server

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerInterop drives a real docker daemon against the registry:
// docker login (htpasswd), push, pull and search.
func TestDockerInterop(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker not installed")
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Skipf("no docker daemon: %s", bytes.TrimSpace(out))
	}
	if _, err := exec.LookPath("htpasswd"); err != nil {
		t.Skip("htpasswd (apache2-utils) not installed")
	}
	pw, err := exec.Command("htpasswd", "-Bbn", "dock", "er-pass").Output()
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHtpasswd(pw, "htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRegistry(t, WithHtpasswd(h, "docker interop"))
	host := strings.TrimPrefix(r.srv.URL, "http://")
	ref := host + "/interop/docker:v1"
	cfgDir := t.TempDir()
	docker := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("docker", append([]string{"--config", cfgDir}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { docker("", "rmi", "-f", ref) })

	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	body := []byte("pushed by docker into hoist\n")
	tw.WriteHeader(&tar.Header{Name: "etc/motd", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	tarFile := filepath.Join(t.TempDir(), "rootfs.tar")
	os.WriteFile(tarFile, tb.Bytes(), 0o644)
	if out, err := docker("", "import", "--change", `LABEL org.opencontainers.image.description="imported for the docker interop test"`, tarFile, ref); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	if out, err := docker("", "push", ref); err == nil {
		t.Fatalf("push without login succeeded:\n%s", out)
	}
	if out, err := docker("wrong\n", "login", "-u", "dock", "--password-stdin", host); err == nil {
		t.Fatalf("login with a wrong password succeeded:\n%s", out)
	}
	if out, err := docker("er-pass\n", "login", "-u", "dock", "--password-stdin", host); err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login: %v\n%s", err, out)
	}
	if out, err := docker("", "push", ref); err != nil {
		t.Fatalf("docker push: %v\n%s", err, out)
	}
	if out, err := docker("", "rmi", ref); err != nil {
		t.Fatalf("docker rmi: %v\n%s", err, out)
	}
	if out, err := docker("", "pull", ref); err != nil {
		t.Fatalf("docker pull: %v\n%s", err, out)
	}
	out, err := docker("", "search", "--no-trunc", host+"/interop")
	if err != nil || !strings.Contains(out, "interop/docker") || !strings.Contains(out, "imported for the docker interop test") {
		t.Fatalf("docker search: %v\n%s", err, out)
	}
}
