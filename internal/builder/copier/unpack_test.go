package copier

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestArchiveUnpacker: a compressed tar is extracted into the directory
// mkdir gives; anything else is not an archive and mkdir is not called.
func TestArchiveUnpacker(t *testing.T) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "d/f.txt", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi"))
	tw.Close()
	zw.Close()
	dir := t.TempDir()
	ok, err := ArchiveUnpacker{}.Unpack(context.Background(), func() (string, error) { return dir, nil }, &b)
	if !ok || err != nil {
		t.Fatalf("Unpack(tar.gz) = %v, %v", ok, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "d/f.txt")); err != nil || string(got) != "hi" {
		t.Errorf("d/f.txt = %q, %v", got, err)
	}
	called := false
	ok, err = ArchiveUnpacker{}.Unpack(context.Background(), func() (string, error) { called = true; return dir, nil }, strings.NewReader("just text"))
	if ok || err != nil || called {
		t.Errorf("Unpack(text) = %v, %v (mkdir called: %v)", ok, err, called)
	}
}
