package distribution

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/registrytest"
	"github.com/hoistproject/hoist/internal/registry/server"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var ctx = context.Background()

// layerTar is a one-file layer tar.
func layerTar(t *testing.T, name, body string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	return b.Bytes()
}

func hoistRegistry(t *testing.T) string {
	st, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(st))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func openStore(t testing.TB) *images.Store {
	st, err := images.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newClient() *client.Client {
	return client.New(client.Options{CertsDirs: []string{}, Credentials: func(context.Context, string) (auth.Credentials, error) { return auth.Credentials{}, nil }})
}

func name(t testing.TB, s string) reference.Named {
	n, err := reference.ParseNamed(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type events struct{ list []string }

func (e *events) add(ev client.Event) { e.list = append(e.list, ev.ID+": "+ev.Status) }

func TestPushPullImage(t *testing.T) {
	for _, reg := range []struct {
		kind string
		host func(t *testing.T) string
	}{
		{"hoist", hoistRegistry},
		{"registry2", func(t *testing.T) string { return registrytest.Start(t, registrytest.Options{}).Host }},
	} {
		t.Run(reg.kind, func(t *testing.T) { testPushPull(t, reg.host(t)) })
	}
}

func testPushPull(t *testing.T, host string) {
	c := newClient()
	defer c.Close()
	src := openStore(t)
	img, err := src.Import(ctx, bytes.NewReader(layerTar(t, "hello.txt", "hello hoist\n")), images.ImportOptions{Name: host + "/team/app:v1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, host+"/team/app:v1", host+"/team/app:v2"); err != nil {
		t.Fatal(err)
	}
	// no tag: every local tag of the repository
	var ev events
	pushed, err := Push(ctx, c, src, name(t, host+"/team/app"), PushOptions{Progress: ev.add}, nil)
	if err != nil || len(pushed) != 2 || pushed[0].Tag != "v1" || pushed[1].Tag != "v2" || pushed[0].Digest != pushed[1].Digest {
		t.Fatalf("Push = %+v %v", pushed, err)
	}
	if !strings.Contains(strings.Join(ev.list, "\n"), ": Pushed") {
		t.Fatalf("push events: %v", ev.list)
	}
	// pushing again reproduces the digest (stored manifest reused)
	again, err := Push(ctx, c, src, name(t, host+"/team/app:v1"), PushOptions{}, nil)
	if err != nil || again[0].Digest != pushed[0].Digest {
		t.Fatalf("second push = %+v %v", again, err)
	}
	if _, err := Push(ctx, c, src, name(t, host+"/team/none:v1"), PushOptions{}, nil); !errdefs.IsNotFound(err) ||
		err.Error() != "An image does not exist locally with the tag: "+host+"/team/none" {
		t.Fatalf("push of a missing image: %v", err)
	}

	dst := openStore(t)
	ev = events{}
	res, err := Pull(ctx, c, dst, name(t, host+"/team/app:v1"), PullOptions{Progress: ev.add})
	if err != nil || res.ImageID != img.ID || !res.Fresh || res.Digest != pushed[0].Digest {
		t.Fatalf("Pull = %+v %v", res, err)
	}
	want := []string{"Pulling fs layer", "Download complete", "Extracting", "Pull complete"}
	joined := strings.Join(ev.list, "\n")
	for _, w := range want {
		if !strings.Contains(joined, ": "+w) {
			t.Fatalf("pull events miss %q: %v", w, ev.list)
		}
	}
	got, err := dst.Resolve(ctx, host+"/team/app:v1")
	if err != nil || got.ID != img.ID || len(got.RepoDigests) != 1 || !strings.HasSuffix(got.RepoDigests[0], "@"+pushed[0].Digest.String()) {
		t.Fatalf("pulled record %+v %v", got, err)
	}
	res, err = Pull(ctx, c, dst, name(t, host+"/team/app:v1"), PullOptions{})
	if err != nil || res.Fresh {
		t.Fatalf("second pull: %+v %v", res, err)
	}
	// by digest: no tag recorded
	dst2 := openStore(t)
	byDigest := name(t, host+"/team/app@"+pushed[0].Digest.String())
	if _, err := Pull(ctx, c, dst2, byDigest, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dst2.Resolve(ctx, host+"/team/app:v1"); !errdefs.IsNotFound(err) {
		t.Fatalf("a digest pull tagged the image: %v", err)
	}
	if _, err := dst2.Resolve(ctx, byDigest.String()); err != nil {
		t.Fatalf("digest pull not resolvable by digest: %v", err)
	}
	// the pulled image pushes unchanged to another repository (same digest, mounted)
	ev = events{}
	if err := dst.Tag(ctx, host+"/team/app:v1", host+"/other/app:v1"); err != nil {
		t.Fatal(err)
	}
	re, err := Push(ctx, c, dst, name(t, host+"/other/app:v1"), PushOptions{Progress: ev.add}, nil)
	if err != nil || re[0].Digest != pushed[0].Digest {
		t.Fatalf("re-push = %+v %v", re, err)
	}
	if !strings.Contains(strings.Join(ev.list, "\n"), ": Mounted from team/app") {
		t.Fatalf("re-push events: %v", ev.list)
	}
	// a different image on the same layer (as one built FROM the pulled
	// one): its layer is mounted from the repository the base came from
	full, err := dst.Get(ctx, host+"/team/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	json.Unmarshal(full.RawConfig, &cfg)
	cfg["author"] = "someone else"
	nb, _ := json.Marshal(cfg)
	if _, err := dst.Create(ctx, images.NewImage{Config: nb, Names: []string{host + "/derived/app:v1"}}); err != nil {
		t.Fatal(err)
	}
	ev = events{}
	if _, err := Push(ctx, c, dst, name(t, host+"/derived/app:v1"), PushOptions{Progress: ev.add}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(ev.list, "\n"), ": Mounted from ") {
		t.Fatalf("derived push events: %v", ev.list)
	}
	// zstd: an OCI manifest whose layer is zstd; it pulls back to the same image ID
	if err := src.Tag(ctx, host+"/team/app:v1", host+"/team/app:zstd"); err != nil {
		t.Fatal(err)
	}
	src2 := openStore(t)
	if _, err := src2.Import(ctx, bytes.NewReader(layerTar(t, "z.txt", strings.Repeat("zstd ", 1000))), images.ImportOptions{Name: host + "/team/z:1"}); err != nil {
		t.Fatal(err)
	}
	zp, err := Push(ctx, c, src2, name(t, host+"/team/z:1"), PushOptions{Compression: "zstd"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := c.Repository(name(t, host+"/team/z")).GetManifest(ctx, zp[0].Digest.String())
	if err != nil || !strings.Contains(string(raw), ocispec.MediaTypeImageLayerZstd) || !strings.Contains(string(raw), ocispec.MediaTypeImageManifest) {
		t.Fatalf("zstd manifest: %s %v", raw, err)
	}
	zimg, _ := src2.Resolve(ctx, host+"/team/z:1")
	zres, err := Pull(ctx, c, openStore(t), name(t, host+"/team/z:1"), PullOptions{})
	if err != nil || zres.ImageID != zimg.ID {
		t.Fatalf("zstd pull: %+v %v", zres, err)
	}
}

func TestPullPlatformFromIndex(t *testing.T) {
	host := hoistRegistry(t)
	c := newClient()
	defer c.Close()
	// a two-platform image built by hand in a content store
	cs, _ := content.NewLocal(t.TempDir())
	put := func(mt string, b []byte) ocispec.Descriptor {
		if _, err := content.WriteBlob(ctx, cs, bytes.NewReader(b), int64(len(b)), digest.FromBytes(b)); err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	var idx ocispec.Index
	idx.SchemaVersion, idx.MediaType = 2, ocispec.MediaTypeImageIndex
	for _, arch := range []string{"amd64", "arm64"} {
		tarb := layerTar(t, arch+".txt", arch)
		var gz bytes.Buffer
		zw := pgzip.NewWriter(&gz)
		zw.Write(tarb)
		zw.Close()
		layer := put(ocispec.MediaTypeImageLayerGzip, gz.Bytes())
		cfg, _ := json.Marshal(map[string]any{"architecture": arch, "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{digest.FromBytes(tarb)}}})
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: put(ocispec.MediaTypeImageConfig, cfg), Layers: []ocispec.Descriptor{layer}}
		m.SchemaVersion = 2
		mb, _ := json.Marshal(m)
		d := put(ocispec.MediaTypeImageManifest, mb)
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		idx.Manifests = append(idx.Manifests, d)
	}
	ib, _ := json.Marshal(idx)
	root := put(ocispec.MediaTypeImageIndex, ib)
	if _, err := client.Push(ctx, cs, c.Repository(name(t, host+"/multi")), root, "latest", client.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	arm, _ := client.ParsePlatform("linux/arm64")
	res, err := Pull(ctx, c, st, name(t, host+"/multi:latest"), PullOptions{Platform: &arm})
	if err != nil || res.Digest != root.Digest {
		t.Fatalf("Pull = %+v %v", res, err)
	}
	full, err := st.Get(ctx, host+"/multi:latest")
	if err != nil || full.Config.Architecture != "arm64" {
		t.Fatalf("pulled %+v %v", full, err)
	}
	ppc, _ := client.ParsePlatform("linux/ppc64le")
	if _, err := Pull(ctx, c, openStore(t), name(t, host+"/multi:latest"), PullOptions{Platform: &ppc}); !errdefs.IsNotFound(err) ||
		!strings.Contains(err.Error(), "no matching manifest for linux/ppc64le") || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Fatalf("no platform: %v", err)
	}
}
