package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
)

func TestRegistryGCCommand(t *testing.T) {
	root := t.TempDir()
	out, errOut, code := run(t, root, "registry", "gc", "--dry-run")
	if code != 0 || !strings.Contains(out, "Total reclaimable space: 0B") {
		t.Fatalf("gc --dry-run: %d %q %q", code, out, errOut)
	}
	// --root is the registry root itself.
	if _, err := os.Stat(filepath.Join(root, "repositories")); err != nil {
		t.Fatalf("registry root not at --root: %v", err)
	}
	out, _, code = run(t, root, "registry", "gc", "--format", "json")
	if code != 0 || !strings.Contains(out, `"blobsDeleted": []`) {
		t.Fatalf("gc json: %d %q", code, out)
	}
	// An old unreferenced blob is collected and reported.
	st, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.PutBlob(context.Background(), "gc/cli", strings.NewReader("orphan bytes!"), 13, digest.FromString("orphan bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "blobs", "sha256", info.Digest.Encoded())
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(p, old, old)
	out, _, code = run(t, root, "registry", "gc", "--dry-run")
	if code != 0 || !strings.Contains(out, "Would delete blob: "+info.Digest.String()) || !strings.Contains(out, "Total reclaimable space: 13B") {
		t.Fatalf("gc --dry-run with garbage: %d %q", code, out)
	}
	out, _, code = run(t, root, "registry", "gc")
	if code != 0 || !strings.Contains(out, "Deleted blob: "+info.Digest.String()) || !strings.Contains(out, "Total reclaimed space: 13B") {
		t.Fatalf("gc: %d %q", code, out)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("blob still there: %v", err)
	}
	_, errOut, code = run(t, root, "registry", "gc", "--bogus")
	if code != 125 || !strings.Contains(errOut, "unknown flag") {
		t.Fatalf("bad flag: %d %q", code, errOut)
	}
	_, errOut, code = run(t, root, "registry", "serve", "--config", filepath.Join(root, "missing.json"))
	if code != 125 || !strings.Contains(errOut, "missing.json") {
		t.Fatalf("missing config: %d %q", code, errOut)
	}
}

func TestRegistryServeCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	root := t.TempDir()
	cfg := filepath.Join(root, "cfg.json")
	// The file says read-only, the flag overrides the address.
	os.WriteFile(cfg, []byte(`{"addr":"127.0.0.1:1","read_only":true,"access_log":false}`), 0o600)
	t.Setenv("HOIST_REGISTRY_REALM", "env realm")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Execute(ctx, []string{"--root", filepath.Join(root, "reg"), "registry", "serve", "--config", cfg, "--addr", addr}, strings.NewReader(""), &out, &errOut)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	var resp *http.Response
	for i := 0; i < 500; i++ {
		resp, err = http.Get("http://" + addr + "/v2/")
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server not up: %v (%s)", err, errOut.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/v2/: %d", resp.StatusCode)
	}
	resp, err = http.Post("http://"+addr+"/v2/x/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("read_only from the config file not applied: %d", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, errOut.String())
	}
	done <- 0
	if !strings.Contains(errOut.String(), "registry listening") {
		t.Fatalf("no startup log: %s", errOut.String())
	}
}
