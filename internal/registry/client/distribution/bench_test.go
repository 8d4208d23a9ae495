package distribution

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/registrytest"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkPullTenLayers pulls a 10-layer image (10 x ~22 MB gzip layers of
// hex text, compressed at gzip's default level as docker does) from a local
// registry:2 into an empty store, and reports the CPU use of this process
// while pulling: cores = (user+sys CPU time)/wall time (above 1: more than
// one core busy). No threshold: a measurement for bench/pullpush.
func BenchmarkPullTenLayers(b *testing.B) {
	reg := registrytest.Start(b, registrytest.Options{})
	c := newClient()
	defer c.Close()
	cs, err := content.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	put := func(mt string, data []byte) ocispec.Descriptor {
		d := digest.FromBytes(data)
		if _, err := content.WriteBlob(ctx, cs, bytes.NewReader(data), int64(len(data)), d); err != nil {
			b.Fatal(err)
		}
		return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(data))}
	}
	var diffIDs []digest.Digest
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest}
	m.SchemaVersion = 2
	raw := make([]byte, 1<<20)
	for i := range 10 {
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		for f := range 20 {
			rand.Read(raw)
			data := []byte(hex.EncodeToString(raw))
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/f%02d", i, f), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
			tw.Write(data)
		}
		tw.Close()
		diffIDs = append(diffIDs, digest.FromBytes(tb.Bytes()))
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(tb.Bytes())
		zw.Close()
		m.Layers = append(m.Layers, put(ocispec.MediaTypeImageLayerGzip, gz.Bytes()))
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	m.Config = put(ocispec.MediaTypeImageConfig, cfg)
	mb, _ := json.Marshal(m)
	root := put(ocispec.MediaTypeImageManifest, mb)
	if _, err := client.Push(ctx, cs, c.Repository(name(b, reg.Host+"/bench/ten")), root, "v1", client.PushOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var wall, cpu time.Duration
	for range b.N {
		b.StopTimer()
		st := openStore(b)
		c := newClient()
		var r0, r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		t0 := time.Now()
		b.StartTimer()
		if _, err := Pull(ctx, c, st, name(b, reg.Host+"/bench/ten:v1"), PullOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		wall += time.Since(t0)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		cpu += time.Duration(r1.Utime.Nano() - r0.Utime.Nano() + r1.Stime.Nano() - r0.Stime.Nano())
		c.Close()
	}
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
}
