package layers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/content"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

func diffOverlay(ctx context.Context, w io.Writer, dir string) error {
	return archive.DiffOverlay(ctx, w, dir, archive.DiffOptions{})
}

func TestCreateFromDirMovesTheDirectory(t *testing.T) {
	ctx := context.Background()
	s, cs, _ := newStore(t)
	base, err := s.Create(ctx, "", bytes.NewReader(tarOf(t, map[string]string{"a": "1", "keep": "k"})), TarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	upper := filepath.Join(t.TempDir(), "upper")
	os.Mkdir(upper, 0o755)
	os.WriteFile(filepath.Join(upper, "b"), []byte("2"), 0o644)
	whiteout := os.Geteuid() == 0
	if whiteout {
		if err := unix.Mknod(filepath.Join(upper, "a"), unix.S_IFCHR, 0); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.CreateFromDir(ctx, base.ChainID, upper, diffOverlay)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(upper); !os.IsNotExist(err) {
		t.Errorf("the directory was not moved: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(s.DiffDir(l.ChainID), "b")); err != nil || string(b) != "2" {
		t.Errorf("layer content %q %v", b, err)
	}
	if l.Parent != base.ChainID || l.ChainID != chainOf(base.ChainID, l.DiffID) || l.Size != 1 {
		t.Errorf("record %+v", l)
	}
	// The blob is the uncompressed tar: its digest is the diffID.
	blob, err := content.ReadBlob(ctx, cs, l.Blob.Digest, 1<<20)
	if err != nil || digest.FromBytes(blob) != l.DiffID || l.Blob.Digest != l.DiffID {
		t.Errorf("blob %s diffID %s: %v", l.Blob.Digest, l.DiffID, err)
	}
	if whiteout && !bytes.Contains(blob, []byte(".wh.a")) {
		t.Error("the whiteout is not in the layer tar")
	}
	if got, err := s.Get(ctx, l.ChainID); err != nil || got.DiffID != l.DiffID {
		t.Errorf("Get: %+v %v", got, err)
	}
	lowers, err := s.LowerDirs(ctx, l.ChainID)
	if err != nil || len(lowers) != 2 || lowers[0] != s.DiffDir(l.ChainID) {
		t.Errorf("LowerDirs %v %v", lowers, err)
	}

	// The same content again: the existing layer, the new copy dropped.
	again := filepath.Join(t.TempDir(), "upper2")
	os.Mkdir(again, 0o755)
	os.WriteFile(filepath.Join(again, "b"), []byte("2"), 0o644)
	if whiteout {
		unix.Mknod(filepath.Join(again, "a"), unix.S_IFCHR, 0)
	}
	os.Chtimes(filepath.Join(again, "b"), mtime(t, filepath.Join(s.DiffDir(l.ChainID), "b")), mtime(t, filepath.Join(s.DiffDir(l.ChainID), "b")))
	os.Chtimes(again, mtime(t, s.DiffDir(l.ChainID)), mtime(t, s.DiffDir(l.ChainID)))
	l2, err := s.CreateFromDir(ctx, base.ChainID, again, diffOverlay)
	if err != nil || l2.ChainID != l.ChainID {
		t.Errorf("same content: %+v %v", l2, err)
	}

	// A failing tar writer leaves the directory where it was.
	kept := filepath.Join(t.TempDir(), "upper3")
	os.Mkdir(kept, 0o755)
	os.WriteFile(filepath.Join(kept, "c"), []byte("3"), 0o644)
	_, err = s.CreateFromDir(ctx, base.ChainID, kept, func(context.Context, io.Writer, string) error { return errors.New("boom") })
	if err == nil {
		t.Fatal("no error")
	}
	if b, err := os.ReadFile(filepath.Join(kept, "c")); err != nil || string(b) != "3" {
		t.Errorf("directory not given back: %q %v", b, err)
	}
	ents, _ := os.ReadDir(filepath.Join(filepath.Dir(s.Dir(l.ChainID)), "tmp"))
	if len(ents) != 0 {
		t.Errorf("layers/tmp not empty: %d entries", len(ents))
	}
}

func mtime(t *testing.T, p string) (m time.Time) {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}
