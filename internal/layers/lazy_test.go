package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

func TestCreateDeferredUnpacksOnFirstUse(t *testing.T) {
	ctx := context.Background()
	s, cs, _ := newStore(t)
	base, err := s.Create(ctx, "", bytes.NewReader(tarOf(t, map[string]string{"a": "1", "keep": "k"})), TarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "b", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)})
	tw.Write([]byte("22"))
	tw.WriteHeader(&tar.Header{Name: "ln", Linkname: "b", Typeflag: tar.TypeSymlink, ModTime: time.Unix(1, 0)})
	tw.WriteHeader(&tar.Header{Name: ".wh.a", Mode: 0o600, Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)})
	tw.Close()
	layerTar := b.Bytes()

	l, err := s.Create(ctx, base.ChainID, bytes.NewReader(layerTar), TarOptions{Deferred: true})
	if err != nil {
		t.Fatal(err)
	}
	// Size as Apply counts it: file content and symlink targets.
	if l.DiffID != digest.FromBytes(layerTar) || l.Blob.Digest != l.DiffID || l.Blob.MediaType != ocispec.MediaTypeImageLayer ||
		l.Parent != base.ChainID || l.ChainID != chainOf(base.ChainID, l.DiffID) || l.Size != 3 {
		t.Fatalf("record %+v", l)
	}
	if blob, err := content.ReadBlob(ctx, cs, l.Blob.Digest, 1<<20); err != nil || !bytes.Equal(blob, layerTar) {
		t.Fatalf("blob: %v", err)
	}
	// Recorded, not unpacked.
	if _, err := os.Lstat(s.Dir(l.ChainID)); err != nil {
		t.Fatalf("layer dir: %v", err)
	}
	if _, err := os.Lstat(s.DiffDir(l.ChainID)); !os.IsNotExist(err) {
		t.Fatalf("diff dir exists before first use: %v", err)
	}
	// First use unpacks it (concurrent users: one directory wins, both see it).
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dirs []string
			dirs, errs[i] = s.LowerDirs(ctx, l.ChainID)
			if errs[i] == nil && (len(dirs) != 2 || dirs[0] != s.DiffDir(l.ChainID)) {
				t.Errorf("LowerDirs %v", dirs)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(s.DiffDir(l.ChainID), "ln")); err != nil || string(got) != "22" {
		t.Errorf("unpacked content %q %v", got, err)
	}
	if os.Geteuid() == 0 {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(s.DiffDir(l.ChainID), "a"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("whiteout not in overlay form: %v %o", err, st.Mode)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
		t.Errorf("layers/tmp not empty: %d entries", len(ents))
	}

	// The same tar again: the existing layer.
	again, err := s.Create(ctx, base.ChainID, bytes.NewReader(layerTar), TarOptions{Deferred: true})
	if err != nil || again.ChainID != l.ChainID {
		t.Fatalf("same content: %+v %v", again, err)
	}

	// A lost directory is unpacked again from the blob.
	if err := os.RemoveAll(s.Dir(l.ChainID)); err != nil {
		t.Fatal(err)
	}
	if err := s.Materialize(ctx, l); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(s.DiffDir(l.ChainID), "b")); err != nil || string(got) != "22" {
		t.Errorf("re-unpacked content %q %v", got, err)
	}
}

func TestCreateDeferredErrors(t *testing.T) {
	ctx := context.Background()
	s, _, db := newStore(t)
	if _, err := s.Create(ctx, "", bytes.NewReader([]byte("not a tar, not a tar, not a tar")), TarOptions{Deferred: true}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("garbage: %v", err)
	}
	if _, err := s.Create(ctx, digest.FromString("nope"), bytes.NewReader(tarOf(t, nil)), TarOptions{Deferred: true}); !errdefs.IsNotFound(err) {
		t.Errorf("missing parent: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
		t.Errorf("layers/tmp not empty: %d entries", len(ents))
	}
	// A layer removed before its first use is not unpacked (no directory
	// without a record is left behind).
	l, err := s.Create(ctx, "", bytes.NewReader(tarOf(t, map[string]string{"x": "1"})), TarOptions{Deferred: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx *metadata.Tx) error {
		_, err := s.Release(ctx, tx, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EmptyTrash(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Materialize(ctx, l); err == nil {
		t.Error("a removed layer was unpacked")
	}
	if _, err := os.Lstat(s.Dir(l.ChainID)); !os.IsNotExist(err) {
		t.Errorf("directory of a removed layer: %v", err)
	}
}
