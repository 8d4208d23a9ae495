package buildcontext

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// genTree writes a deterministic source-like tree: files spread over
// nested directories, sizes skewed (many small files, a few large ones),
// totalling about totalBytes.
func genTree(tb testing.TB, dir string, files int, totalBytes int64) {
	tb.Helper()
	rng := rand.New(rand.NewSource(1))
	weights := make([]float64, files)
	var sumW float64
	for i := range weights {
		w := rng.ExpFloat64()
		if i%500 == 0 {
			w *= 40 // a few big files, like testdata blobs in Go's src
		}
		weights[i] = w
		sumW += w
	}
	buf := make([]byte, 4<<20)
	rng.Read(buf)
	for i := 0; i < files; i++ {
		size := int64(weights[i] / sumW * float64(totalBytes))
		if size > int64(len(buf)) {
			size = int64(len(buf))
		}
		d := filepath.Join(dir, fmt.Sprintf("pkg%03d", i%97), fmt.Sprintf("sub%02d", i%23))
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
		off := (i * 7919) % (len(buf) - int(size) + 1)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d.go", i)), buf[off:off+int(size)], 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkChecksum measures hashing an 11,500-file / 150 MB context:
// cold (no stat cache: every file read), warm (stat cache loaded from its
// file, nothing changed: a no-op rebuild) and one file changed.
//
//	go test -run XXX -bench Checksum -benchtime 5x ./internal/builder/buildcontext/
func BenchmarkChecksum(b *testing.B) {
	const files, total = 11500, 150 << 20
	dir := b.TempDir()
	genTree(b, dir, files, total)
	// Make the tree older than the racy window, as a source tree is.
	old := time.Now().Add(-time.Hour)
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	time.Sleep(racyWindow) // ctime was just touched by Chtimes
	c, err := New(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	cachePath := filepath.Join(b.TempDir(), "statcache")
	var bytes int64
	sel, err := c.Select(ctx, "COPY", []string{"."}, SelectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range sel.Entries {
		if e.Info.Mode().IsRegular() {
			bytes += e.Info.Size()
		}
	}
	b.Logf("tree: %d entries, %d regular bytes", len(sel.Entries), bytes)

	b.Run("cold", func(b *testing.B) {
		b.SetBytes(bytes)
		for i := 0; i < b.N; i++ {
			sc := OpenStatCache(filepath.Join(b.TempDir(), "none"), dir)
			if _, err := Checksum(ctx, c, []string{"."}, ChecksumOptions{Cache: sc}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Prime the persistent cache.
	sc := OpenStatCache(cachePath, dir)
	if _, err := Checksum(ctx, c, []string{"."}, ChecksumOptions{Cache: sc}); err != nil {
		b.Fatal(err)
	}
	if err := sc.Save(); err != nil {
		b.Fatal(err)
	}
	b.Run("warm-noop", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sc := OpenStatCache(cachePath, dir)
			if _, err := Checksum(ctx, c, []string{"."}, ChecksumOptions{Cache: sc}); err != nil {
				b.Fatal(err)
			}
			if err := sc.Save(); err != nil {
				b.Fatal(err)
			}
			if _, m := sc.Stats(); m != 0 {
				b.Fatalf("warm run read %d files", m)
			}
		}
	})
	b.Run("warm-one-changed", func(b *testing.B) {
		changed := filepath.Join(dir, "pkg000", "sub00", "f00000.go")
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			os.WriteFile(changed, []byte(fmt.Sprint("changed ", i)), 0o644)
			b.StartTimer()
			sc := OpenStatCache(cachePath, dir)
			if _, err := Checksum(ctx, c, []string{"."}, ChecksumOptions{Cache: sc}); err != nil {
				b.Fatal(err)
			}
			if err := sc.Save(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
