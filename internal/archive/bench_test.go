package archive

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// genTree writes about totalBytes of files into dir: a spread of sizes
// like a distribution's rootfs (many small files, a few large ones), in
// nested directories, with symlinks.
func genTree(tb testing.TB, dir string, totalBytes int64) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, 4<<20)
	for i := range chunk {
		chunk[i] = byte(rng.Uint32())
	}
	var written int64
	for i := 0; written < totalBytes; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%02d/s%02d", i%23, i%7))
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
		var size int
		switch {
		case i%97 == 0:
			size = 2<<20 + rng.IntN(2<<20)
		case i%10 == 0:
			size = 64<<10 + rng.IntN(256<<10)
		default:
			size = rng.IntN(16 << 10)
		}
		off := rng.IntN(len(chunk) - size)
		p := filepath.Join(d, fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(p, chunk[off:off+size], 0o644); err != nil {
			tb.Fatal(err)
		}
		if i%50 == 0 {
			os.Symlink(fmt.Sprintf("f%05d", i), p+".link")
		}
		written += int64(size)
	}
}

func BenchmarkApply(b *testing.B) {
	src := b.TempDir()
	genTree(b, src, 50<<20)
	var layer bytes.Buffer
	if err := Tar(context.Background(), &layer, src, TarOptions{}); err != nil {
		b.Fatal(err)
	}
	data := layer.Bytes()
	b.SetBytes(int64(len(data)))
	work := b.TempDir()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		dst := filepath.Join(work, fmt.Sprint(i))
		if err := os.Mkdir(dst, 0o755); err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(context.Background(), dst, bytes.NewReader(data), ApplyOptions{NoSameOwner: os.Geteuid() != 0}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}

func BenchmarkTar(b *testing.B) {
	src := b.TempDir()
	genTree(b, src, 50<<20)
	var n int64
	for b.Loop() {
		cw := &countWriter{}
		if err := Tar(context.Background(), cw, src, TarOptions{}); err != nil {
			b.Fatal(err)
		}
		n = cw.n
	}
	b.SetBytes(n)
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
