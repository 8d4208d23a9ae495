package cli

import (
	"archive/tar"
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/registry/server"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
)

func TestPullPushVerbs(t *testing.T) {
	dockerConfigDir(t)
	host := testRegistry(t)

	// an image to push: a one-file rootfs imported
	srcRoot, dstRoot := t.TempDir(), t.TempDir()
	tarPath := filepath.Join(t.TempDir(), "rootfs.tar")
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg})
	tw.Write([]byte("hello\n"))
	tw.Close()
	os.WriteFile(tarPath, b.Bytes(), 0o644)
	mustRun(t, srcRoot, "import", tarPath, host+"/demo/app:v1")

	out, errOut, code := run(t, srcRoot, "push", host+"/demo/app:v1")
	re := regexp.MustCompile(`^The push refers to repository \[` + regexp.QuoteMeta(host) + `/demo/app\]\n([0-9a-f]{12}): Preparing\n([0-9a-f]{12}): Pushed\nv1: digest: (sha256:[0-9a-f]{64}) size: \d+\n$`)
	m := re.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("push: %d %q %q", code, out, errOut)
	}
	dg := m[3]

	out, errOut, code = run(t, dstRoot, "pull", host+"/demo/app")
	want := "Using default tag: latest\nlatest: Pulling from demo/app\n"
	if code != 1 || out != want || errOut != "Error response from daemon: manifest for "+host+"/demo/app:latest not found: manifest unknown: manifest unknown\n" {
		t.Fatalf("pull of a missing tag: %d %q %q", code, out, errOut)
	}
	out, _, code = run(t, dstRoot, "pull", host+"/demo/app:v1")
	want = "v1: Pulling from demo/app\n" + m[1] + ": Pulling fs layer\n" + m[1] + ": Verifying Checksum\n" + m[1] + ": Download complete\n" +
		m[1] + ": Pull complete\nDigest: " + dg + "\nStatus: Downloaded newer image for " + host + "/demo/app:v1\n" + host + "/demo/app:v1\n"
	if code != 0 || out != want {
		t.Fatalf("pull:\n%s\nwant:\n%s", out, want)
	}
	out, _, _ = run(t, dstRoot, "pull", host+"/demo/app:v1")
	if !strings.Contains(out, m[1]+": Already exists\n") || !strings.Contains(out, "Status: Image is up to date for "+host+"/demo/app:v1\n") {
		t.Fatalf("second pull: %q", out)
	}
	out, _, code = run(t, t.TempDir(), "image", "pull", "-q", host+"/demo/app@"+dg)
	if code != 0 || out != host+"/demo/app@"+dg+"\n" {
		t.Fatalf("pull -q by digest: %d %q", code, out)
	}
	out, _, _ = run(t, dstRoot, "images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}")
	if out != host+"/demo/app:v1 "+dg+"\n" {
		t.Fatalf("images after pull: %q", out)
	}
	_, errOut, code = run(t, srcRoot, "push", host+"/demo/none:v1")
	if code != 1 || errOut != "Error response from daemon: An image does not exist locally with the tag: "+host+"/demo/none\n" {
		t.Fatalf("push of a missing image: %d %q", code, errOut)
	}
	_, errOut, code = run(t, dstRoot, "pull", "--platform", "linux/s390x", host+"/demo/app:v1")
	if code != 1 || !strings.Contains(errOut, "does not match the specified platform: wanted linux/s390x, actual: linux/amd64") {
		t.Fatalf("pull of a missing platform: %d %q", code, errOut)
	}
}

// testRegistry serves a fresh hoist registry on 127.0.0.1 for the test's
// life and returns its host:port.
func testRegistry(t *testing.T) string {
	t.Helper()
	st, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return testRegistryOn(t, st)
}

// testRegistryOn is testRegistry over given storage and server options.
func testRegistryOn(t *testing.T, st *storage.Store, opts ...server.Option) string {
	t.Helper()
	srv := httptest.NewServer(server.New(st, opts...))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
