package server

import (
	"context"
	"github.com/hoistproject/hoist/internal/content"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
)

// TestHeadRefreshFollowsGrace: with a GC grace of 1s, a blob found by HEAD
// survives a collection right after it, though it was older than the grace
// (HEAD used to refresh only blobs older than a minute).
func TestHeadRefreshFollowsGrace(t *testing.T) {
	r := newTestRegistry(t, WithGCGrace(time.Second))
	d := r.pushBlob("g", []byte("checked by a client"))
	p, err := r.store.Blobs().(*content.Local).BlobPath(d)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-1500 * time.Millisecond)
	os.Chtimes(p, old, old)
	r.expect(r.do("HEAD", "/v2/g/blobs/"+d.String(), nil), http.StatusOK, "")
	rep, err := r.store.GC(context.Background(), storage.GCOptions{Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.BlobsDeleted) != 0 || !r.store.BlobExists(context.Background(), d) {
		t.Fatalf("blob swept right after a HEAD: %+v", rep)
	}
}

// TestRegistryGCGraceZeroAndUploadBytes: `hoist registry gc --grace 0s`
// collects a fresh unreferenced blob (0s used to mean one hour), and the
// reclaimed space counts the purged upload sessions' data.
func TestRegistryGCGraceZeroAndUploadBytes(t *testing.T) {
	bin := hoistBinary(t)
	root := t.TempDir()
	st, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	blob := strings.Repeat("b", 1000)
	if _, err := st.PutBlob(ctx, "r", strings.NewReader(blob), int64(len(blob)), digestOf(blob)); err != nil {
		t.Fatal(err)
	}
	u, err := st.NewUpload(ctx, "r", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, strings.NewReader(strings.Repeat("u", 5000)), 0, 5000); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"data", "state"} {
		os.Chtimes(filepath.Join(root, "uploads", u.ID(), n), old, old)
	}
	out, err := exec.Command(bin, "registry", "gc", "--root", root, "--grace", "0s", "--upload-max-age", "1m").CombinedOutput()
	if err != nil {
		t.Fatalf("registry gc: %v\n%s", err, out)
	}
	for _, want := range []string{"Deleted blob: " + digestOf(blob).String(), "Purged uploads: 1", "Total reclaimed space: 6kB"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("registry gc output lacks %q:\n%s", want, out)
		}
	}
}

func digestOf(s string) digest.Digest { return digest.FromString(s) }
