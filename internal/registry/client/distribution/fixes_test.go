package distribution

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPushMountsLocalLayer: an image imported locally (its layer stored
// uncompressed) pushed to one repository and then to another mounts the
// layer from the first (it used to upload it again: mount candidates were
// keyed by the uncompressed blob).
func TestPushMountsLocalLayer(t *testing.T) {
	host := hoistRegistry(t)
	c := newClient()
	defer c.Close()
	src := openStore(t)
	if _, err := src.Import(ctx, bytes.NewReader(layerTar(t, "a.txt", strings.Repeat("local ", 5000))), images.ImportOptions{Name: host + "/team/a:v1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, c, src, name(t, host+"/team/a:v1"), PushOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, host+"/team/a:v1", host+"/team/b:v1"); err != nil {
		t.Fatal(err)
	}
	var ev events
	if _, err := Push(ctx, c, src, name(t, host+"/team/b:v1"), PushOptions{Progress: ev.add}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(ev.list, "\n"), ": Mounted from team/a") {
		t.Fatalf("second push did not mount the layer: %v", ev.list)
	}
}

// TestPushZstdAfterGzip: --compression zstd after a gzip push of the same
// image pushes zstd layers (it reused the stored gzip manifest).
func TestPushZstdAfterGzip(t *testing.T) {
	host := hoistRegistry(t)
	c := newClient()
	defer c.Close()
	src := openStore(t)
	if _, err := src.Import(ctx, bytes.NewReader(layerTar(t, "z.txt", strings.Repeat("zz ", 5000))), images.ImportOptions{Name: host + "/team/z:v1"}); err != nil {
		t.Fatal(err)
	}
	gz, err := Push(ctx, c, src, name(t, host+"/team/z:v1"), PushOptions{Compression: "gzip"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	zs, err := Push(ctx, c, src, name(t, host+"/team/z:v1"), PushOptions{Compression: "zstd"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := c.Repository(name(t, host+"/team/z")).GetManifest(ctx, zs[0].Digest.String())
	if err != nil || zs[0].Digest == gz[0].Digest || !strings.Contains(string(raw), ocispec.MediaTypeImageLayerZstd) {
		t.Fatalf("zstd push after gzip pushed %s (gzip was %s): %s %v", zs[0].Digest, gz[0].Digest, raw, err)
	}
}

// flakyProxy forwards TCP to a backend; while down it accepts and drops
// connections, coming back up after upAfter dropped connections.
type flakyProxy struct {
	ln      net.Listener
	backend string
	upAfter int

	mu      sync.Mutex
	down    bool
	dropped int
	conns   []net.Conn
}

func (p *flakyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.dropped++
			if p.dropped >= p.upAfter {
				p.down = false
			}
			p.mu.Unlock()
			c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, b)
		p.mu.Unlock()
		go func() { io.Copy(b, c); b.Close() }()
		go func() { io.Copy(c, b); c.Close() }()
	}
}

// goDown drops every connection and refuses new ones until upAfter tries.
func (p *flakyProxy) goDown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// downOnce is a blob source that takes the proxy down when the upload
// reaches half of it.
type downOnce struct {
	data []byte
	p    *flakyProxy
	once sync.Once
}

func (d *downOnce) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(len(d.data)/2) {
		d.once.Do(d.p.goDown)
	}
	if off >= int64(len(d.data)) {
		return 0, io.EOF
	}
	n := copy(b, d.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// TestPushBlobOutlivesOutage: the registry becomes unreachable in the
// middle of a chunked upload and refuses 10 connections (more than one
// status request's retries): the upload backs off, resumes from the
// registry's offset and completes (it gave up after one status GET),
// saying "Retrying in N seconds" while it waits, as docker does.
func TestPushBlobOutlivesOutage(t *testing.T) {
	backend := hoistRegistry(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &flakyProxy{ln: ln, backend: backend, upAfter: 10}
	go p.serve()
	c := client.New(client.Options{CertsDirs: []string{}, RetryBackoff: time.Millisecond, ChunkSize: 64 << 10, MaxPatchSize: 64 << 10,
		Credentials: func(context.Context, string) (auth.Credentials, error) { return auth.Credentials{}, nil }})
	defer c.Close()
	data := bytes.Repeat([]byte("outage "), 100000)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	var mu sync.Mutex
	retrying := 0
	progress := func(e client.Event) {
		if strings.HasPrefix(e.Status, "Retrying in ") {
			mu.Lock()
			retrying++
			mu.Unlock()
			if e.Status != client.RetryingStatus(1) || e.ID != client.ShortID(desc.Digest) {
				t.Errorf("retry event %+v", e)
			}
		}
	}
	if err := c.Repository(name(t, ln.Addr().String()+"/team/o")).PushBlobWithProgress(ctx, desc, &downOnce{data: data, p: p}, progress); err != nil {
		t.Fatalf("push across an outage: %v", err)
	}
	mu.Lock()
	if retrying == 0 {
		t.Error("no \"Retrying in N seconds\" while the registry was away")
	}
	mu.Unlock()
	p.mu.Lock()
	dropped := p.dropped
	p.mu.Unlock()
	if dropped < p.upAfter {
		t.Fatalf("the outage did not happen (%d connections dropped)", dropped)
	}
	if ok, err := newClient().Repository(name(t, backend+"/team/o")).Exists(ctx, desc.Digest); !ok || err != nil {
		t.Fatalf("blob not in the registry after the push: %v", err)
	}
}
