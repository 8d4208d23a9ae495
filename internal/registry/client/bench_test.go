package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/registrytest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkBlobTransferRegistry2 pushes and pulls one blob (HOIST_BENCH_MB,
// default 200 MiB) to and from a local registry:2 with the given chunk size.
func BenchmarkBlobTransferRegistry2(b *testing.B) {
	mb := 200
	if v, err := strconv.Atoi(os.Getenv("HOIST_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	reg := registrytest.Start(b, registrytest.Options{})
	dir := b.TempDir()
	p := filepath.Join(dir, "blob")
	f, _ := os.Create(p)
	dg := digest.Canonical.Digester()
	io.Copy(io.MultiWriter(f, dg.Hash()), io.LimitReader(rand.Reader, int64(mb)<<20))
	f.Close()
	desc := ocispec.Descriptor{Digest: dg.Digest(), Size: int64(mb) << 20, MediaType: ocispec.MediaTypeImageLayerGzip}
	for _, chunk := range []int64{16 << 20, 1 << 40} {
		b.Run("chunk="+strconv.FormatInt(min(chunk, 1<<30)>>20, 10)+"MiB", func(b *testing.B) {
			b.SetBytes(desc.Size)
			var push, pull time.Duration
			defer func() {
				b.ReportMetric(push.Seconds()/float64(b.N), "push-s/op")
				b.ReportMetric(pull.Seconds()/float64(b.N), "pull-s/op")
			}()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				c := New(Options{MaxPatchSize: chunk, CertsDirs: []string{}, Credentials: func(context.Context, string) (auth.Credentials, error) { return auth.Credentials{}, nil }})
				repo := c.Repository(mustName(b, reg.Host+"/bench/r"+strconv.Itoa(i)+strconv.FormatInt(chunk, 10)))
				src, _ := os.Open(p)
				if err := repo.PushBlob(ctx, desc, src); err != nil {
					b.Fatal(err)
				}
				src.Close()
				push += time.Since(t0)
				t0 = time.Now()
				st, _ := content.NewLocal(b.TempDir())
				rc, err := repo.Fetch(ctx, desc)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := content.WriteBlob(ctx, st, rc, desc.Size, desc.Digest); err != nil {
					b.Fatal(err)
				}
				rc.Close()
				pull += time.Since(t0)
			}
		})
	}
	_ = bytes.MinRead
}
