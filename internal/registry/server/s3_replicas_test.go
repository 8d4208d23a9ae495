package server

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage/s3test"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// s3Serve starts one `hoist registry serve` process on bucket of srv (parts
// of 5 MiB, so that a few MiB make a multipart upload) and returns it and
// its base URL.
func s3Serve(t *testing.T, bin string, srv *s3test.Server, bucket string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"--s3-bucket", bucket, "--s3-regionendpoint", srv.Endpoint, "--s3-forcepathstyle",
		"--s3-accesskey", srv.AccessKey, "--s3-secretkey", srv.SecretKey, "--s3-rootdirectory", "/reg",
		"--s3-chunksize", strconv.Itoa(5 << 20)}, extra...)
	return startHoist(t, bin, t.TempDir(), addr, args...), "http://" + addr
}

// s3Pair starts versitygw and two replicas on one bucket: the binary, the
// first replica's process and both base URLs.
func s3Pair(t *testing.T) (bin string, procA *exec.Cmd, a, b string) {
	t.Helper()
	bin = hoistBinary(t)
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	procA, a = s3Serve(t, bin, srv, bucket)
	_, b = s3Serve(t, bin, srv, bucket)
	return bin, procA, a, b
}

// rootfsTar writes a rootfs tarball holding a file of size random bytes
// (incompressible: the layer is a multipart upload on S3).
func rootfsTar(t *testing.T, size int) string {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "data.bin", Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	file := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(file, tb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestS3ReplicasClients: two `hoist registry serve` processes on one
// bucket; docker, skopeo and hoist each push an image (a 12 MiB layer: a
// multipart upload) to one replica and pull it from the other.
func TestS3ReplicasClients(t *testing.T) {
	bin, _, a, b := s3Pair(t)
	hostA, hostB := strings.TrimPrefix(a, "http://"), strings.TrimPrefix(b, "http://")
	rootfs := rootfsTar(t, 12<<20)

	t.Run("hoist", func(t *testing.T) {
		root := t.TempDir()
		hoist := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
			cmd.Env = append(os.Environ(), "HOIST_CONFIG="+filepath.Join(root, "none.json"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("hoist %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		hoist("import", rootfs, hostA+"/clients/hoist:v1")
		hoist("push", hostA+"/clients/hoist:v1")
		want := manifestDigest(t, a, "clients/hoist", "v1")
		out, err := hoistPull(t, bin, hostB+"/clients/hoist:v1")
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("hoist pull from the other replica (want %s): %v\n%s", want, err, out)
		}
	})

	t.Run("skopeo", func(t *testing.T) {
		if _, err := exec.LookPath("skopeo"); err != nil {
			t.Skip("skopeo not installed")
		}
		src := t.TempDir()
		md := writeOCILayout(t, src)
		if out, err := skopeo(t, "copy", "--dest-tls-verify=false", "oci:"+src+":v1", "docker://"+hostA+"/clients/skopeo:v1"); err != nil {
			t.Fatalf("skopeo push: %v\n%s", err, out)
		}
		dst := t.TempDir()
		if out, err := skopeo(t, "copy", "--src-tls-verify=false", "docker://"+hostB+"/clients/skopeo:v1", "oci:"+dst+":v1"); err != nil {
			t.Fatalf("skopeo pull from the other replica: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(filepath.Join(dst, "index.json"))
		var idx ocispec.Index
		json.Unmarshal(b, &idx)
		if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != md {
			t.Fatalf("pulled %s, want manifest %s", b, md)
		}
	})

	t.Run("docker", func(t *testing.T) {
		if _, err := exec.LookPath("docker"); err != nil {
			t.Skip("docker not installed")
		}
		if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
			t.Skipf("no docker daemon: %s", bytes.TrimSpace(out))
		}
		refA, refB := hostA+"/clients/docker:v1", hostB+"/clients/docker:v1"
		docker := func(args ...string) (string, error) {
			out, err := exec.Command("docker", args...).CombinedOutput()
			return string(out), err
		}
		t.Cleanup(func() { docker("rmi", "-f", refA, refB) })
		if out, err := docker("import", rootfs, refA); err != nil {
			t.Fatalf("docker import: %v\n%s", err, out)
		}
		id, _ := docker("image", "inspect", "--format", "{{.Id}}", refA)
		if out, err := docker("push", refA); err != nil {
			t.Fatalf("docker push: %v\n%s", err, out)
		}
		if out, err := docker("rmi", refA); err != nil {
			t.Fatalf("docker rmi: %v\n%s", err, out)
		}
		if out, err := docker("pull", refB); err != nil {
			t.Fatalf("docker pull from the other replica: %v\n%s", err, out)
		}
		if got, _ := docker("image", "inspect", "--format", "{{.Id}}", refB); got != id {
			t.Fatalf("pulled image %s, pushed %s", got, id)
		}
	})
}

// TestS3ReplicaKilledMidUpload: a replica is killed (SIGKILL) while a
// client streams a 40 MiB chunk to it; the other replica reports the
// session at its last checkpoint, takes the rest and completes the blob,
// which no replica served before.
func TestS3ReplicaKilledMidUpload(t *testing.T) {
	_, procA, a, b := s3Pair(t)
	data := make([]byte, 40<<20)
	rand.Read(data)
	d := digest.FromBytes(data)

	code, h, body := httpDo(t, "POST", a+"/v2/kill/me/blobs/uploads/", nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", code, body)
	}
	path := h.Get("Location")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", a+path, pr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := pw.Write(data[:36<<20]); err != nil {
		t.Fatal(err)
	}
	// The other replica sees the first checkpoint (every 16 MiB) once it
	// is in the bucket.
	offsetOn := func(base string) int64 {
		t.Helper()
		code, h, body := httpDo(t, "GET", base+path, nil)
		if code != http.StatusNoContent {
			t.Fatalf("upload status from %s: %d %s", base, code, body)
		}
		end, err := strconv.ParseInt(strings.TrimPrefix(h.Get("Range"), "0-"), 10, 64)
		if err != nil {
			t.Fatalf("Range %q", h.Get("Range"))
		}
		if end == 0 {
			return 0
		}
		return end + 1
	}
	for deadline := time.Now().Add(time.Minute); offsetOn(b) < 16<<20; {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint reached the bucket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	procA.Process.Signal(syscall.SIGKILL)
	procA.Wait()
	pw.CloseWithError(io.ErrClosedPipe)
	<-done

	if code, _, _ := httpDo(t, "HEAD", b+"/v2/kill/me/blobs/"+d.String(), nil); code != http.StatusNotFound {
		t.Fatalf("blob visible before its upload completed: %d", code)
	}
	off := offsetOn(b)
	if off < 16<<20 || off > 36<<20 {
		t.Fatalf("session at %d on the other replica, want a checkpoint between 16 and 36 MiB", off)
	}
	code, _, body = httpDo(t, "PATCH", b+path, data[off:], "Content-Type", "application/octet-stream", "Content-Range", fmt.Sprintf("%d-%d", off, len(data)-1))
	if code != http.StatusAccepted {
		t.Fatalf("resuming PATCH on the other replica: %d %s", code, body)
	}
	if code, _, body := httpDo(t, "PUT", withDigest(b+path, d), nil); code != http.StatusCreated {
		t.Fatalf("PUT on the other replica: %d %s", code, body)
	}
	_, _, got := httpDo(t, "GET", b+"/v2/kill/me/blobs/"+d.String(), nil)
	if !bytes.Equal(got, data) {
		t.Fatalf("completed blob differs (%d bytes)", len(got))
	}
}
