package cli

import (
	"archive/tar"
	"bytes"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestPushedLayerBlobInUse: push compresses a layer stored uncompressed
// into a gzip blob that only the manifest it pushed names; both are stored
// on the image and are in use while it is (images.BlobsInUse): system check
// lists no leftover, repair keeps them even once old, a second push reuses
// them (no blob written: nothing recompressed), and rmi frees them with the
// last image naming them, not before.
func TestPushedLayerBlobInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real binary)")
	}
	bin := hoistBinary(t)
	dockerConfigDir(t)
	reg := serveRegistryBinary(t, bin)
	h := hoistRunner{t: t, bin: bin, root: t.TempDir()}
	img, other := reg+"/blobuse/img:1", reg+"/blobuse/other:1"
	h.must(tarWithFile(t, nil, "pushed", "a layer pushed gzipped\n"), "import", "-", img)
	imported := blobFiles(t, h.root)
	out := h.must(nil, "push", img)
	if !strings.Contains(out, ": Pushed\n") {
		t.Fatalf("first push:\n%s", out)
	}
	pushed := blobFiles(t, h.root)
	var made []string
	for b := range pushed {
		if _, ok := imported[b]; !ok {
			made = append(made, b)
		}
	}
	if len(made) != 2 {
		t.Fatalf("push stored %d blobs (want the gzip layer and the manifest): %v", len(made), made)
	}
	h.checkNoLeftover("after push")

	// Older than repair's grace period for unreferenced blobs: kept all the same.
	old := time.Now().Add(-24 * time.Hour)
	for b := range pushed {
		if err := os.Chtimes(filepath.Join(h.root, "content", "blobs", "sha256", b), old, old); err != nil {
			t.Fatal(err)
		}
	}
	h.must(nil, "system", "check", "--repair")
	sameBlobs(t, "after system check --repair", pushed, blobFiles(t, h.root))

	// A second push, and a push to another repository, use the stored
	// manifest and gzip blob: the registry has the layer, or mounts it.
	if out := h.must(nil, "push", img); !strings.Contains(out, ": Layer already exists\n") {
		t.Fatalf("second push:\n%s", out)
	}
	h.must(nil, "tag", img, other)
	if out := h.must(nil, "push", other); !strings.Contains(out, ": Mounted from blobuse/img\n") {
		t.Fatalf("push to another repository:\n%s", out)
	}
	sameBlobs(t, "after pushing again", pushed, blobFiles(t, h.root))
	h.checkNoLeftover("after pushing again")

	// rmi of one name keeps the image and its blobs; of the last frees them.
	h.must(nil, "rmi", img)
	sameBlobs(t, "after rmi of one name", pushed, blobFiles(t, h.root))
	h.must(nil, "rmi", other)
	if left := blobFiles(t, h.root); len(left) != 0 {
		t.Fatalf("rmi of the last name left blobs: %v", left)
	}
	h.checkNoLeftover("after rmi")
}

// blobFiles maps the blobs of a root's content store to their inodes (a
// blob written again is a new file).
func blobFiles(t *testing.T, root string) map[string]uint64 {
	t.Helper()
	dir := filepath.Join(root, "content", "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Sys().(*syscall.Stat_t).Ino
	}
	return out
}

func sameBlobs(t *testing.T, where string, want, got map[string]uint64) {
	t.Helper()
	if !maps.Equal(want, got) {
		t.Fatalf("%s: blobs (name: inode) changed:\nwant %v\ngot  %v", where, want, got)
	}
}

// checkNoLeftover: system check finds no problem and no leftover.
func (h hoistRunner) checkNoLeftover(where string) {
	h.t.Helper()
	out, _, code := h.run(nil, "system", "check")
	if code != 0 || !strings.Contains(out, "No problems found.") || strings.Contains(out, "leftover:") {
		h.t.Fatalf("%s: system check: exit %d\n%s", where, code, out)
	}
}
