package builder

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/snapshot"
	"github.com/opencontainers/go-digest"
)

// copyLayerDir is the directory of layer i (0: the base) of a built image.
func (e *realEnv) copyLayerDir(t *testing.T, r built, i int) string {
	t.Helper()
	chain := layers.ChainIDs(r.cfg.RootFS.DiffIDs)
	dir, err := e.b.Snapshots.(*snapshot.Overlay).LayerDir(context.Background(), chain[i])
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func nlink(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Nlink)
}

// TestIntegrationIncrementalCopy: a COPY whose sources changed builds its
// layer from the previous one (unchanged files hardlinked, see
// copier.Reuse), and the result is exactly what a build without the
// previous layer gives: same layer diffIDs, same image ID. A changed, a
// removed, an added file and a mode-only change are all reflected, and the
// previous layer's files are never modified.
func TestIntegrationIncrementalCopy(t *testing.T) {
	e := newRealEnv(t)
	ctxDir := writeCtx(t, map[string]string{
		"src/a.txt": "alpha", "src/sub/b.txt": "beta", "src/sub/deep/c.txt": "gamma",
		"src/del.txt": "to be removed", "src/mode.txt": "mode", "other": "x",
	})
	epoch := time.Unix(1700000000, 0)
	df := "FROM busybox\nCOPY src /app/src\nRUN cat /app/src/a.txt > /a\n"
	r1, _ := e.build(t, df, ctxDir, Options{SourceDateEpoch: &epoch})
	if r1.err != nil {
		t.Fatalf("%v\n%s", r1.err, r1.out)
	}
	prev := e.copyLayerDir(t, r1, 1)
	if n := nlink(t, filepath.Join(prev, "app/src/sub/b.txt")); n != 1 {
		t.Fatalf("cold copy: nlink %d, want 1", n)
	}

	os.WriteFile(filepath.Join(ctxDir, "src/a.txt"), []byte("changed"), 0o644)
	os.Remove(filepath.Join(ctxDir, "src/del.txt"))
	os.WriteFile(filepath.Join(ctxDir, "src/sub/new.txt"), []byte("new"), 0o644)
	os.Chmod(filepath.Join(ctxDir, "src/mode.txt"), 0o600)
	r2, _ := e.build(t, df, ctxDir, Options{SourceDateEpoch: &epoch, Tags: []string{"inc"}})
	if r2.err != nil {
		t.Fatalf("%v\n%s", r2.err, r2.out)
	}
	cur := e.copyLayerDir(t, r2, 1)
	// The unchanged files are the previous layer's inodes.
	for _, p := range []string{"app/src/sub/b.txt", "app/src/sub/deep/c.txt"} {
		if n := nlink(t, filepath.Join(cur, p)); n != 2 {
			t.Errorf("%s: nlink %d, want 2 (linked from the previous layer)", p, n)
		}
	}
	for _, p := range []string{"app/src/a.txt", "app/src/mode.txt", "app/src/sub/new.txt"} {
		if n := nlink(t, filepath.Join(cur, p)); n != 1 {
			t.Errorf("%s: nlink %d, want 1 (copied)", p, n)
		}
	}
	for p, want := range map[string]string{"app/src/a.txt": "changed", "app/src/sub/new.txt": "new", "app/src/sub/b.txt": "beta", "a": "changed"} {
		if got, _ := e.readImageFile(t, "inc", p); got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
	if _, fi := e.readImageFile(t, "inc", "app/src/del.txt"); fi != nil {
		t.Error("removed file still in the image")
	}
	if _, fi := e.readImageFile(t, "inc", "app/src/mode.txt"); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode change not reflected: %v", fi)
	}
	// The previous layer is as it was.
	if fi, err := os.Lstat(filepath.Join(prev, "app/src/mode.txt")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("previous layer's file changed: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(prev, "app/src/a.txt")); string(b) != "alpha" {
		t.Errorf("previous layer's a.txt = %q", b)
	}

	// The same context built with nothing to reuse gives the same bytes:
	// its layer tar is written from a plain copy (the layer record found
	// equal afterwards is the incremental one).
	if err := os.RemoveAll(filepath.Join(e.root, "build", "copyindex")); err != nil {
		t.Fatal(err)
	}
	r3, _ := e.build(t, df, ctxDir, Options{SourceDateEpoch: &epoch, NoCache: true})
	if r3.err != nil {
		t.Fatalf("%v\n%s", r3.err, r3.out)
	}
	if !equalDigests(r2.cfg.RootFS.DiffIDs, r3.cfg.RootFS.DiffIDs) {
		t.Errorf("incremental layers %v, fresh %v", r2.cfg.RootFS.DiffIDs, r3.cfg.RootFS.DiffIDs)
	}
	if r2.res.ID != r3.res.ID {
		t.Errorf("incremental image %s, fresh %s", r2.res.ID, r3.res.ID)
	}
}

func equalDigests(a, b []digest.Digest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestIntegrationIncrementalCopyNoWriteThrough: a file linked from the
// previous layer and then overwritten in the same COPY (a later source
// with the same name) is replaced, never written through: the previous
// layer's inode keeps its content and link count.
func TestIntegrationIncrementalCopyNoWriteThrough(t *testing.T) {
	e := newRealEnv(t)
	ctxDir := writeCtx(t, map[string]string{"a/x": "same", "b/x": "same", "a/y": "1"})
	mt := time.Unix(1600000000, 0)
	for _, p := range []string{"a/x", "b/x"} {
		os.Chtimes(filepath.Join(ctxDir, p), mt, mt)
	}
	df := "FROM busybox\nCOPY a b /app/\n"
	r1, _ := e.build(t, df, ctxDir, Options{})
	if r1.err != nil {
		t.Fatalf("%v\n%s", r1.err, r1.out)
	}
	prev := filepath.Join(e.copyLayerDir(t, r1, 1), "app/x")
	os.WriteFile(filepath.Join(ctxDir, "a/y"), []byte("2"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "b/x"), []byte("other"), 0o644)
	os.Chtimes(filepath.Join(ctxDir, "b/x"), mt, mt)
	r2, _ := e.build(t, df, ctxDir, Options{Tags: []string{"inc"}})
	if r2.err != nil {
		t.Fatalf("%v\n%s", r2.err, r2.out)
	}
	if got, _ := e.readImageFile(t, "inc", "app/x"); got != "other" {
		t.Errorf("/app/x = %q, want the later source's", got)
	}
	if b, _ := os.ReadFile(prev); string(b) != "same" {
		t.Errorf("previous layer's file written through: %q", b)
	}
	if n := nlink(t, prev); n != 1 {
		t.Errorf("previous layer's file: nlink %d, want 1 (the link was replaced)", n)
	}
}
