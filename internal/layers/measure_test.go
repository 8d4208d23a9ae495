package layers

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/klauspost/compress/gzip"
)

// TestMeasureBlobCost measures what keeping the layer blob costs (see
// doc.go). It only runs with HOIST_MEASURE=1: it writes ~1 GB.
func TestMeasureBlobCost(t *testing.T) {
	if os.Getenv("HOIST_MEASURE") == "" {
		t.Skip("set HOIST_MEASURE=1 to measure the layer blob cost")
	}
	ctx := context.Background()
	work := t.TempDir()
	// A ~200 MB layer from /usr files.
	tarPath := filepath.Join(work, "layer.tar")
	f, _ := os.Create(tarPath)
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	var total int64
	files := 0
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil || total > 200<<20 {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		} else if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil
		}
		h, _ := tar.FileInfoHeader(fi, link)
		h.Name = strings.TrimPrefix(p, "/")
		if fi.IsDir() {
			h.Name += "/"
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer src.Close()
			tw.WriteHeader(h)
			n, _ := io.Copy(tw, src)
			total += n
			files++
			return nil
		}
		tw.WriteHeader(h)
		return nil
	}
	// Many small files first (like a distribution base image), then libraries.
	for _, root := range []string{"/usr/share", "/usr/lib"} {
		if total < 200<<20 {
			filepath.WalkDir(root, walk)
		}
	}
	tw.Close()
	bw.Flush()
	f.Close()
	gzPath := tarPath + ".gz"
	{
		in, _ := os.Open(tarPath)
		out, _ := os.Create(gzPath)
		zw := gzip.NewWriter(out)
		io.Copy(zw, in)
		zw.Close()
		out.Close()
		in.Close()
	}
	st, _ := os.Stat(tarPath)
	gst, _ := os.Stat(gzPath)
	t.Logf("layer: %d files, %d bytes of file content, tar %d bytes, gzip %d bytes", files, total, st.Size(), gst.Size())
	du := func(dir string) string {
		out, _ := exec.Command("du", "-sh", dir).Output()
		return strings.Fields(string(out))[0]
	}
	dropCaches := func() { exec.Command("sync").Run() }

	// 1. Unpack and hash the diffID only (no blob kept), plain and gzip.
	for _, c := range []struct{ name, path string }{{"tar:  unpack + diffID, no blob ", tarPath}, {"gzip: unpack + diffID, no blob ", gzPath}} {
		dropCaches()
		dir := filepath.Join(work, "only")
		os.MkdirAll(dir, 0o755)
		in, _ := os.Open(c.path)
		start := time.Now()
		dec, _, err := archive.DecompressStream(in)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		tr := io.TeeReader(dec, h)
		if _, err := archive.Apply(ctx, dir, tr, archive.ApplyOptions{Overlay: true}); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, tr)
		syncFS(dir)
		t.Logf("%s: %v, disk %s", c.name, time.Since(start).Round(10*time.Millisecond), du(dir))
		in.Close()
		os.RemoveAll(dir)
	}

	// 2. Create from the uncompressed tar: blob kept uncompressed.
	for _, c := range []struct {
		name string
		path string
		keep bool
	}{{"tar:  unpack + diffID + blob   ", tarPath, false}, {"gzip: unpack + diffID + gz blob", gzPath, true}} {
		dropCaches()
		s, _, _ := newStore(t)
		in, _ := os.Open(c.path)
		start := time.Now()
		var err error
		if c.keep {
			var st *Staged
			if st, err = s.Stage(ctx, in, StageOptions{Store: true}); err == nil {
				err = st.Sync()
				st.Discard()
			}
		} else {
			_, err = s.Create(ctx, "", in, TarOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v, disk %s", c.name, time.Since(start).Round(10*time.Millisecond), du(filepath.Dir(s.dir)))
		in.Close()
	}
}
