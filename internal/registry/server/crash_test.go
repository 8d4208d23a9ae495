package server

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// testBin caches the hoist binary built for this package's tests.
var testBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBin.dir != "" {
		os.RemoveAll(testBin.dir)
	}
	os.Exit(code)
}

// hoistBinary returns $HOIST_BIN or builds hoist once for the package.
func hoistBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("HOIST_BIN"); b != "" {
		return b
	}
	if testing.Short() {
		t.Skip("-short: not building the hoist binary")
	}
	testBin.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		top := filepath.Join(filepath.Dir(file), "..", "..", "..")
		testBin.dir, testBin.err = os.MkdirTemp("", "hoist-regtest-")
		if testBin.err != nil {
			return
		}
		testBin.path = filepath.Join(testBin.dir, "hoist")
		cmd := exec.Command("go", "build", "-o", testBin.path, "./cmd/hoist")
		cmd.Dir = top
		if out, err := cmd.CombinedOutput(); err != nil {
			testBin.err = fmt.Errorf("building hoist: %v\n%s", err, out)
		}
	})
	if testBin.err != nil {
		t.Fatal(testBin.err)
	}
	return testBin.path
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startHoist(t *testing.T, bin, root, addr string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"registry", "serve", "--root", root, "--addr", addr, "--access-log=false"}, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 1000; i++ {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return cmd
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("hoist registry serve did not start")
	return nil
}

// TestKill9DuringPushes kills the server while a streamed PATCH and a
// monolithic upload are in flight: after a restart no partial blob is
// served and the session resumes from its last checkpoint.
func TestKill9DuringPushes(t *testing.T) {
	bin := hoistBinary(t)
	root := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	srv := startHoist(t, bin, root, addr)

	data := make([]byte, 40<<20)
	for i := range data {
		data[i] = byte(i * 7 >> 3)
	}
	sum := sha256.Sum256(data)
	d := digest.NewDigestFromBytes(digest.SHA256, sum[:])

	resp, err := http.Post(base+"/v2/crash/test/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := base + resp.Header.Get("Location")
	// Streamed PATCH: send 36 MiB, then stall.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", loc, pr)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	pw.Write(data[:36<<20])
	// Monolithic upload of the same blob, also stalled half way.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v2/crash/mono/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", d, len(data))
	conn.Write(data[:10<<20])
	// Wait until the server has taken in the streamed bytes.
	for i := 0; ; i++ {
		r, err := http.Get(loc)
		if err == nil {
			r.Body.Close()
			if r.Header.Get("Range") == fmt.Sprintf("0-%d", 36<<20-1) {
				break
			}
		}
		if i > 3000 {
			t.Fatal("server never received the streamed bytes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	pw.CloseWithError(io.ErrClosedPipe)

	startHoist(t, bin, root, addr)
	// No partial blob anywhere.
	for _, repo := range []string{"crash/test", "crash/mono"} {
		r, err := http.Head(base + "/v2/" + repo + "/blobs/" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: blob visible after crash: %d", repo, r.StatusCode)
		}
	}
	// The session resumes at a checkpoint.
	r, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("session gone after restart: %d", r.StatusCode)
	}
	end, err := strconv.ParseInt(strings.TrimPrefix(r.Header.Get("Range"), "0-"), 10, 64)
	if err != nil {
		t.Fatalf("Range %q", r.Header.Get("Range"))
	}
	off := end + 1
	if end == 0 {
		off = 0
	}
	if off < 16<<20 || off > 36<<20 {
		t.Fatalf("resumed at %d, want a checkpoint between 16 MiB and 36 MiB", off)
	}
	req, _ = http.NewRequest("PATCH", loc, bytes.NewReader(data[off:]))
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, len(data)-1))
	r, err = http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != http.StatusAccepted {
		t.Fatalf("resume PATCH: %v %v", err, r)
	}
	r.Body.Close()
	req, _ = http.NewRequest("PUT", withDigest(loc, d), nil)
	r, err = http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT after resume: %v %v", err, r)
	}
	r.Body.Close()
	r, err = http.Get(base + "/v2/crash/test/blobs/" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("resumed blob differs")
	}
	// The abandoned monolithic upload left only an ingest file, which the
	// purge removes.
	if ents, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256")); len(ents) != 1 {
		t.Fatalf("blobs: %v", ents)
	}
}

// TestSIGTERMGraceful: the binary stops cleanly (exit 0) on SIGTERM.
func TestSIGTERMGraceful(t *testing.T) {
	bin := hoistBinary(t)
	addr := freeAddr(t)
	srv := startHoist(t, bin, t.TempDir(), addr)
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
