package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	. "github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/registrytest"
	"github.com/hoistproject/hoist/internal/registry/server"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
)

var ctx = context.Background()

// TestInteropRegistry2 runs the client against a real registry:2 with
// htpasswd auth.
func TestInteropRegistry2(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Username: "hoist", Password: "s3cret"})
	interop(t, reg.Host, false)
}

// TestInteropHoistRegistry runs the client against hoist's own registry
// server (in-process, htpasswd auth).
func TestInteropHoistRegistry(t *testing.T) {
	st, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	htp, err := server.ParseHtpasswd([]byte("hoist:"+string(hash)+"\n"), "htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(st, server.WithHtpasswd(htp, "hoist-test")))
	t.Cleanup(srv.Close)
	interop(t, strings.TrimPrefix(srv.URL, "http://"), true)
}

// TestInteropHoistRegistryToken: the same against hoist's registry with
// its Docker token flow (Bearer challenge, /token, scoped tokens).
func TestInteropHoistRegistryToken(t *testing.T) {
	st, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	htp, err := server.ParseHtpasswd([]byte("hoist:"+string(hash)+"\n"), "htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	ta, err := server.NewTokenAuth(bytes.Repeat([]byte("k"), 32), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(st, server.WithHtpasswd(htp, "hoist-test"), server.WithTokenAuth(ta)))
	t.Cleanup(srv.Close)
	interop(t, strings.TrimPrefix(srv.URL, "http://"), true)
}

func interop(t *testing.T, host string, hasSearch bool) {
	reg := struct{ Host string }{host}
	creds := auth.Credentials{Username: "hoist", Password: "s3cret"}
	c := New(Options{
		Credentials: func(context.Context, string) (auth.Credentials, error) { return creds, nil },
		ChunkSize:   1 << 20, MaxPatchSize: 1 << 20, CertsDirs: []string{}, RetryBackoff: 1,
	})
	defer c.Close()

	if _, err := c.Login(ctx, reg.Host, auth.Credentials{Username: "hoist", Password: "wrong"}); !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "unauthorized: ") {
		t.Fatalf("login with a wrong password: %v", err)
	}
	if _, err := c.Login(ctx, reg.Host, creds); err != nil {
		t.Fatalf("login: %v", err)
	}

	repo := c.Repository(MustName(t, reg.Host+"/hoist/app"))
	// config by PushBlob (monolithic), a 3.5 MiB layer by the Ingester (chunked)
	cfgBytes := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfg := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfgBytes), Size: int64(len(cfgBytes))}
	if err := repo.PushBlob(ctx, cfg, bytes.NewReader(cfgBytes)); err != nil {
		t.Fatalf("PushBlob: %v", err)
	}
	layerBytes := RandBytes(3<<20 + 512<<10)
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(layerBytes), Size: int64(len(layerBytes))}
	if _, err := content.WriteBlob(ctx, repo, bytes.NewReader(layerBytes), layer.Size, layer.Digest); err != nil {
		t.Fatalf("chunked upload: %v", err)
	}
	// a second chunked upload through PushBlob
	layer2Bytes := RandBytes(2<<20 + 7)
	layer2 := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(layer2Bytes), Size: int64(len(layer2Bytes))}
	if err := repo.PushBlob(ctx, layer2, bytes.NewReader(layer2Bytes)); err != nil {
		t.Fatalf("chunked PushBlob: %v", err)
	}
	// the registry refuses a wrong digest
	if err := repo.PushBlob(ctx, ocispec.Descriptor{Digest: digest.FromString("x"), Size: int64(len(cfgBytes))}, bytes.NewReader(cfgBytes)); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "digest invalid") {
		t.Fatalf("wrong digest: %v", err)
	}

	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer, layer2}}
	m.SchemaVersion = 2
	mb, _ := json.Marshal(m)
	mdesc, err := repo.PushManifest(ctx, "v1", ocispec.MediaTypeImageManifest, mb)
	if err != nil {
		t.Fatalf("PushManifest: %v", err)
	}
	// Docker schema2 media types too
	dm := map[string]any{"schemaVersion": 2, "mediaType": mediatype.DockerManifest,
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cfg.Digest, "size": cfg.Size},
		"layers": []any{map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer.Digest, "size": layer.Size}}}
	dmb, _ := json.Marshal(dm)
	if _, err := repo.PushManifest(ctx, "docker", mediatype.DockerManifest, dmb); err != nil {
		t.Fatalf("PushManifest schema2: %v", err)
	}
	arm := ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: mdesc.Digest, Size: mdesc.Size, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{MediaType: mediatype.DockerManifest, Digest: digest.FromBytes(dmb), Size: int64(len(dmb)), Platform: &arm},
	}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	for _, tag := range []string{"multi", "t1", "t2", "t3"} {
		if _, err := repo.PushManifest(ctx, tag, ocispec.MediaTypeImageIndex, ib); err != nil {
			t.Fatalf("PushManifest index %s: %v", tag, err)
		}
	}

	// pull side, with a fresh client (fresh token/auth state)
	c2 := New(Options{Credentials: func(context.Context, string) (auth.Credentials, error) { return creds, nil }, CertsDirs: []string{}})
	defer c2.Close()
	r2 := c2.Repository(MustName(t, reg.Host+"/hoist/app:multi"))
	desc, err := r2.Resolve(ctx, Ref(r2.Name()))
	if err != nil || desc.MediaType != ocispec.MediaTypeImageIndex || desc.Digest != digest.FromBytes(ib) {
		t.Fatalf("Resolve index: %+v %v", desc, err)
	}
	got, err := r2.FetchManifest(ctx, desc)
	if err != nil || !bytes.Equal(got, ib) {
		t.Fatalf("FetchManifest index: %v", err)
	}
	sel, err := SelectManifest(got, arm)
	if err != nil || sel.Digest != digest.FromBytes(dmb) {
		t.Fatalf("SelectManifest: %+v %v", sel, err)
	}
	if _, err := SelectManifest(got, ocispec.Platform{OS: "linux", Architecture: "riscv64"}); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
		t.Fatalf("no match: %v", err)
	}
	db, err := r2.FetchManifest(ctx, sel)
	if err != nil || !bytes.Equal(db, dmb) {
		t.Fatalf("FetchManifest schema2: %v", err)
	}
	d2, err := r2.Resolve(ctx, "docker")
	if err != nil || d2.MediaType != mediatype.DockerManifest {
		t.Fatalf("Resolve schema2: %+v %v", d2, err)
	}
	st, _ := content.NewLocal(t.TempDir())
	rc, err := r2.Fetch(ctx, layer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := content.WriteBlob(ctx, st, rc, layer.Size, layer.Digest); err != nil {
		t.Fatalf("blob pull into the local store: %v", err)
	}
	rc.Close()
	rd, err := r2.Open(ctx, layer2.Digest)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := rd.ReadAt(buf, 1<<20); err != nil || !bytes.Equal(buf, layer2Bytes[1<<20:1<<20+100]) {
		t.Fatalf("ReadAt: %v", err)
	}
	rd.Close()
	if _, err := r2.Resolve(ctx, "nope"); !errdefs.IsNotFound(err) {
		t.Fatalf("missing tag: %v", err)
	}
	tags, err := r2.Tags(ctx)
	sort.Strings(tags)
	if err != nil || strings.Join(tags, ",") != "docker,multi,t1,t2,t3,v1" {
		t.Fatalf("Tags = %v %v", tags, err)
	}

	// cross-repository mount, then the blob is in the other repository
	other := c2.Repository(MustName(t, reg.Host+"/hoist/other"))
	ok, err := other.Mount(ctx, layer.Digest, "hoist/app")
	if err != nil || !ok {
		t.Fatalf("Mount = %v %v", ok, err)
	}
	if ok, err := other.Exists(ctx, layer.Digest); !ok || err != nil {
		t.Fatalf("mounted blob missing: %v %v", ok, err)
	}
	// a mount from a repository without the blob falls back cleanly
	if ok, err := other.Mount(ctx, layer2.Digest, "hoist/none"); ok || err != nil {
		t.Fatalf("impossible mount = %v %v", ok, err)
	}

	// anonymous access is refused with a clear error
	anon := New(Options{CertsDirs: []string{}})
	defer anon.Close()
	_, err = anon.Repository(MustName(t, reg.Host+"/hoist/app")).Resolve(ctx, "v1")
	if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "unauthorized: ") {
		t.Fatalf("anonymous: %v", err)
	}
	// whole-image copies: local store -> registry -> another local store
	src := NewLocal(t)
	imgIndex, imgArm64 := BuildImage(t, src)
	pushed, err := Push(ctx, src, c2.Repository(MustName(t, reg.Host+"/hoist/multi")), imgIndex, "1.0", PushOptions{})
	if err != nil || pushed.Digest != imgIndex.Digest {
		t.Fatalf("Push image: %+v %v", pushed, err)
	}
	dst := NewLocal(t)
	res, err := Pull(ctx, []*Repository{c2.Repository(MustName(t, reg.Host+"/hoist/multi"))}, "1.0", dst, PullOptions{Platform: &arm})
	if err != nil || res.Index.Digest != imgIndex.Digest || res.Manifest.Digest != imgArm64.Digest {
		t.Fatalf("Pull image: %+v %v", res, err)
	}

	if hasSearch {
		res, err := c2.Search(ctx, reg.Host+"/app", 25, SearchFilter{})
		if err != nil || len(res) != 1 || res[0].Name != "hoist/app" {
			t.Fatalf("search: %+v %v", res, err)
		}
		if _, err := anon.Search(ctx, reg.Host+"/app", 25, SearchFilter{}); !errors.Is(err, errdefs.ErrUnauthorized) {
			t.Fatalf("anonymous search: %v", err)
		}
	} else if _, err := c2.Search(ctx, reg.Host+"/app", 25, SearchFilter{}); !errdefs.IsNotFound(err) {
		// registry:2 has no search
		t.Fatalf("search on registry:2: %v", err)
	}
	_ = io.EOF
}
