package client

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var ctx = context.Background()

func testManifest(t *testing.T, cfg, layer ocispec.Descriptor) []byte {
	t.Helper()
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestResolveAndFetchManifest(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	body := testManifest(t, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString("c"), Size: 1},
		ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString("l"), Size: 1})
	d := f.addManifest("lib/app", "v1", ocispec.MediaTypeImageManifest, body)
	r := f.repo(c, "lib/app")
	desc, err := r.Resolve(ctx, "v1")
	if err != nil || desc.Digest != d || desc.Size != int64(len(body)) || desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("Resolve = %+v, %v", desc, err)
	}
	got, err := r.FetchManifest(ctx, desc)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("FetchManifest: %v", err)
	}
	if _, err := r.Resolve(ctx, "nope"); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "manifest unknown") {
		t.Fatalf("missing tag: %v", err)
	}
	// HEAD without a digest: falls back to GET and computes it
	f.noHeadDigest = true
	desc, err = r.Resolve(ctx, "v1")
	if err != nil || desc.Digest != d {
		t.Fatalf("Resolve via GET = %+v, %v", desc, err)
	}
	// a registry lying about the digest is caught
	f.noHeadDigest = false
	f.manifestDigest = digest.FromString("other").String()
	if _, _, err := r.GetManifest(ctx, "v1"); !errdefs.IsDataLoss(err) {
		t.Fatalf("lying Docker-Content-Digest: %v", err)
	}
	if _, err := r.Resolve(ctx, d.String()); !errdefs.IsDataLoss(err) {
		t.Fatalf("HEAD by digest answering another digest: %v", err)
	}
	f.manifestDigest = ""
	// bytes that are not the requested digest are rejected
	f.mu.Lock()
	f.manifests["lib/app"][d.String()] = fakeManifest{ocispec.MediaTypeImageManifest, append([]byte(" "), body...)}
	f.mu.Unlock()
	if _, err := r.FetchManifest(ctx, desc); !errdefs.IsDataLoss(err) {
		t.Fatalf("tampered manifest: %v", err)
	}
}

func TestManifestOver4MiB(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	big := bytes.Repeat([]byte(" "), MaxManifestSize+1)
	big[0] = '{'
	big[len(big)-1] = '}'
	f.addManifest("big", "latest", ocispec.MediaTypeImageManifest, big)
	r := f.repo(c, "big")
	if _, err := r.Resolve(ctx, "latest"); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "4 MiB") {
		t.Fatalf("Resolve of a 4 MiB+1 manifest: %v", err)
	}
	f.noHeadDigest = true
	if _, _, err := r.GetManifest(ctx, "latest"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("GetManifest of a 4 MiB+1 manifest: %v", err)
	}
	if _, err := r.PushManifest(ctx, "x", ocispec.MediaTypeImageManifest, big); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("PushManifest of a 4 MiB+1 manifest: %v", err)
	}
}

func TestSchema1Refused(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	f.addManifest("old", "latest", "application/vnd.docker.distribution.manifest.v1+prettyjws", []byte(`{"schemaVersion":1,"fsLayers":[]}`))
	_, _, err := f.repo(c, "old").GetManifest(ctx, "latest")
	if !errors.Is(err, errdefs.ErrNotImplemented) || !strings.Contains(err.Error(), "schema 1") {
		t.Fatalf("schema1: %v", err)
	}
}

func TestFetchBlobVerifiesAndResumes(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	data := randBytes(300 << 10)
	d := f.addBlob("app", data)
	r := f.repo(c, "app")
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: int64(len(data))}

	// the connection is cut twice in the middle of the blob
	f.cutBlobAt, f.cutsLeft = 100<<10, 2
	rc, err := r.Fetch(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumed read: %d bytes, %v", len(got), err)
	}
	ranges := 0
	for _, l := range f.logged() {
		if strings.HasPrefix(l, "GET /v2/app/blobs/") {
			ranges++
		}
	}
	if ranges != 3 {
		t.Fatalf("want 3 GETs (1 + 2 resumes), got %d: %v", ranges, f.logged())
	}

	// a server without Range support still works (skips what was read)
	f.cutsLeft, f.ignoreRange = 1, true
	st, _ := content.NewLocal(t.TempDir())
	rc, _ = r.Fetch(ctx, desc)
	if _, err := content.WriteBlob(ctx, st, rc, desc.Size, desc.Digest); err != nil {
		t.Fatalf("resume without Range support: %v", err)
	}
	rc.Close()
	f.ignoreRange = false

	// a cut that never heals fails cleanly, and a retry then succeeds
	f.cutsLeft, f.cutBlobAt = 100, -1
	rc, _ = r.Fetch(ctx, desc)
	_, err = io.ReadAll(rc)
	rc.Close()
	if err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("endless cuts: %v", err)
	}
	f.cutsLeft = 0
	rc, err = r.Fetch(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("retry after failure: %v", err)
	}
}

func TestBadDigestFromRegistryNothingCommitted(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	data := randBytes(10 << 10)
	d := f.addBlob("app", data)
	f.corrupt = true
	r := f.repo(c, "app")
	root := t.TempDir()
	st, _ := content.NewLocal(root)
	rc, err := r.Fetch(ctx, ocispec.Descriptor{Digest: d, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = content.WriteBlob(ctx, st, rc, int64(len(data)), d)
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("corrupt blob: %v", err)
	}
	if ok, _ := content.Exists(ctx, st, d); ok {
		t.Fatal("corrupt blob committed")
	}
	ents, _ := os.ReadDir(filepath.Join(root, "ingest"))
	if len(ents) != 0 {
		t.Fatal("ingest file left behind")
	}
	// a registry sending more bytes than the descriptor says
	f.corrupt = false
	rc2, _ := r.Fetch(ctx, ocispec.Descriptor{Digest: d, Size: int64(len(data)) - 1})
	if _, err := io.ReadAll(rc2); !errdefs.IsDataLoss(err) {
		t.Fatalf("oversized blob: %v", err)
	}
	rc2.Close()
}

func TestProviderShape(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	data := []byte("hello remote provider")
	d := f.addBlob("app", data)
	r := f.repo(c, "app")
	var p content.Provider = r
	got, err := content.ReadBlob(ctx, p, d, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadBlob: %q %v", got, err)
	}
	rd, err := p.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	buf := make([]byte, 6)
	if n, err := rd.ReadAt(buf, 6); n != 6 || string(buf) != "remote" || err != nil {
		t.Fatalf("ReadAt = %q %v", buf[:n], err)
	}
	if pos, err := rd.Seek(-8, io.SeekEnd); err != nil || pos != int64(len(data)-8) {
		t.Fatal(pos, err)
	}
	rest, _ := io.ReadAll(rd)
	if string(rest) != "provider" {
		t.Fatalf("after seek: %q", rest)
	}
	info, err := r.Info(ctx, d)
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Info = %+v %v", info, err)
	}
	if ok, err := r.Exists(ctx, digest.FromString("nope")); ok || err != nil {
		t.Fatalf("Exists(missing) = %v %v", ok, err)
	}
	if _, err := p.Open(ctx, digest.FromString("nope")); !errdefs.IsNotFound(err) {
		t.Fatalf("Open(missing) = %v", err)
	}
}

func TestRedirectStripsAuthorization(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	data := randBytes(4096)
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write(data)
	}))
	defer storage.Close()
	f := newFakeReg(t)
	f.authMode, f.user, f.pass = "bearer", "alice", "pw"
	d := f.addBlob("app", data)
	f.redirectBlobs = storage.URL
	c := f.client(auth.Credentials{Username: "alice", Password: "pw"})
	r := f.repo(c, "app")
	rc, err := r.Fetch(ctx, ocispec.Descriptor{Digest: d, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("redirected read: %v", err)
	}
	if len(seen) != 1 || seen[0] != "" {
		t.Fatalf("storage host received Authorization %q", seen)
	}
	sentToRegistry := false
	for _, l := range f.logged() {
		if strings.HasPrefix(l, "GET /v2/app/blobs/") && strings.Contains(l, "Bearer T|") {
			sentToRegistry = true
		}
	}
	if !sentToRegistry {
		t.Fatalf("registry never got the token: %v", f.logged())
	}
}

func TestBearerFlowScopesAndCache(t *testing.T) {
	f := newFakeReg(t)
	f.authMode, f.user, f.pass = "bearer", "alice", "pw"
	data := randBytes(3000)
	src := f.addBlob("lib/src", data)
	c := f.client(auth.Credentials{Username: "alice", Password: "pw"})
	srcRepo := f.repo(c, "lib/src")
	for i := 0; i < 3; i++ {
		if ok, err := srcRepo.Exists(ctx, src); !ok || err != nil {
			t.Fatalf("Exists: %v %v", ok, err)
		}
	}
	dst := f.repo(c, "lib/dst")
	mounted, err := dst.Mount(ctx, src, "lib/src")
	if err != nil || !mounted {
		t.Fatalf("Mount = %v %v", mounted, err)
	}
	other := randBytes(5000)
	if err := dst.PushBlob(ctx, ocispec.Descriptor{Digest: digest.FromBytes(other), Size: int64(len(other))}, bytes.NewReader(other)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	calls := append([]string(nil), f.tokenCalls...)
	f.mu.Unlock()
	want := []string{
		"repository:lib/src:pull",
		"repository:lib/dst:pull,push repository:lib/src:pull",
		"repository:lib/dst:pull,push",
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("token requests:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	// wrong password: a clear unauthorized error
	bad := f.client(auth.Credentials{Username: "alice", Password: "wrong"})
	_, err = f.repo(bad, "lib/src").Exists(ctx, src)
	if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "unauthorized: incorrect username or password") {
		t.Fatalf("wrong password: %v", err)
	}
	// anonymous: the registry refuses, and says so
	anon := f.client(auth.Credentials{})
	_, err = f.repo(anon, "lib/src").Resolve(ctx, "latest")
	if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "unauthorized: authentication required") {
		t.Fatalf("anonymous: %v", err)
	}
}

func TestMountRefusedFallsBack(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	d := f.addBlob("a", []byte("x"))
	ok, err := f.repo(c, "b").Mount(ctx, d, "elsewhere")
	if ok || err != nil {
		t.Fatalf("refused mount = %v %v", ok, err)
	}
	f.mu.Lock()
	n := len(f.uploads)
	f.mu.Unlock()
	if n != 0 {
		t.Fatal("the fallback upload session was left open")
	}
}

func TestPushBlobMonolithicChunkedAndResumed(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{}) // 1 KiB chunks
	r := f.repo(c, "app")
	small := randBytes(700)
	if err := r.PushBlob(ctx, ocispec.Descriptor{Digest: digest.FromBytes(small), Size: 700}, bytes.NewReader(small)); err != nil {
		t.Fatal(err)
	}
	big := randBytes(5000)
	bd := digest.FromBytes(big)
	f.failPatches = 2
	if err := r.PushBlob(ctx, ocispec.Descriptor{Digest: bd, Size: int64(len(big))}, bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	stored := f.blobs[bd]
	f.mu.Unlock()
	if !bytes.Equal(stored, big) {
		t.Fatal("chunked+resumed upload stored wrong bytes")
	}
	var patches, puts, statuses int
	for _, l := range f.logged() {
		switch {
		case strings.HasPrefix(l, "PATCH "):
			patches++
		case strings.HasPrefix(l, "PUT "):
			puts++
		case strings.HasPrefix(l, "GET /v2/app/blobs/uploads/"):
			statuses++
		}
	}
	if puts != 2 || statuses != 2 || patches != 3 {
		t.Fatalf("puts=%d statuses=%d patches=%d: %v", puts, statuses, patches, f.logged())
	}
	// bounded PATCH size: 5 chunks with Content-Range
	c2 := New(Options{MaxPatchSize: 1024, ChunkSize: 1024, RetryBackoff: 1, CertsDirs: []string{}})
	before := len(f.logged())
	big2 := randBytes(5000)
	if err := f.repo(c2, "app").PushBlob(ctx, ocispec.Descriptor{Digest: digest.FromBytes(big2), Size: 5000}, bytes.NewReader(big2)); err != nil {
		t.Fatal(err)
	}
	patches = 0
	for _, l := range f.logged()[before:] {
		if strings.HasPrefix(l, "PATCH ") {
			patches++
		}
	}
	if patches != 5 {
		t.Fatalf("bounded patches: %d", patches)
	}
	// a wrong digest is refused by the registry: a clear error
	err := r.PushBlob(ctx, ocispec.Descriptor{Digest: digest.FromString("lie"), Size: 700}, bytes.NewReader(small))
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "digest invalid") {
		t.Fatalf("wrong digest push: %v", err)
	}
}

func TestIngesterShape(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	r := f.repo(c, "app")
	var ing content.Ingester = r
	for _, n := range []int{0, 10, 1024, 3000} {
		data := randBytes(n)
		d := digest.FromBytes(data)
		info, err := content.WriteBlob(ctx, ing, bytes.NewReader(data), int64(n), d)
		if err != nil || info.Digest != d {
			t.Fatalf("WriteBlob(%d) = %+v %v", n, info, err)
		}
		f.mu.Lock()
		ok := bytes.Equal(f.blobs[d], data)
		f.mu.Unlock()
		if !ok {
			t.Fatalf("size %d: stored bytes differ", n)
		}
	}
	// a mismatch is caught before the registry commits anything
	data := randBytes(2500)
	_, err := content.WriteBlob(ctx, ing, bytes.NewReader(data), int64(len(data)), digest.FromString("other"))
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("mismatch: %v", err)
	}
	f.mu.Lock()
	_, committed := f.blobs[digest.FromBytes(data)]
	open := len(f.uploads)
	f.mu.Unlock()
	if committed || open != 0 {
		t.Fatalf("mismatching blob committed=%v, open uploads=%d", committed, open)
	}
}

func TestPushManifestAndTags(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	r := f.repo(c, "app")
	body := testManifest(t, ocispec.Descriptor{Digest: digest.FromString("c"), Size: 1}, ocispec.Descriptor{Digest: digest.FromString("l"), Size: 1})
	for _, tag := range []string{"a", "b", "c", "d", "e"} {
		desc, err := r.PushManifest(ctx, tag, ocispec.MediaTypeImageManifest, body)
		if err != nil || desc.Digest != digest.FromBytes(body) {
			t.Fatalf("PushManifest = %+v %v", desc, err)
		}
	}
	tags, err := r.Tags(ctx)
	if err != nil || strings.Join(tags, ",") != "a,b,c,d,e" {
		t.Fatalf("Tags = %v %v", tags, err)
	}
	if _, err := f.repo(c, "none").Tags(ctx); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "name unknown") {
		t.Fatalf("Tags of a missing repo: %v", err)
	}
}

func TestRetriesAndUserAgent(t *testing.T) {
	var mu sync.Mutex
	fails := 2
	var uas []string
	var posts int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		uas = append(uas, r.UserAgent())
		if r.Method == http.MethodPost {
			posts++
			w.WriteHeader(503)
			return
		}
		if r.URL.Path != "/v2/" && fails > 0 {
			fails--
			w.WriteHeader(503)
			return
		}
		w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
		w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`))
	}))
	defer srv.Close()
	c := New(Options{UserAgent: "hoist/1.2.3", RetryBackoff: 1, CertsDirs: []string{}})
	r := c.Repository(mustName(t, strings.TrimPrefix(srv.URL, "http://")+"/x"))
	if _, _, err := r.GetManifest(ctx, "latest"); err != nil {
		t.Fatalf("GET after two 503s: %v", err)
	}
	if _, err := r.startUpload(ctx); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("POST 503: %v", err)
	}
	if posts != 1 {
		t.Fatalf("POST retried %d times", posts)
	}
	for _, ua := range uas {
		if ua != "hoist/1.2.3" {
			t.Fatalf("User-Agent %q", ua)
		}
	}
}

func TestTLSErrorsAndCertsDir(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
		w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	certs := t.TempDir()
	newClient := func() *Client {
		c := New(Options{CertsDirs: []string{certs}, MaxRetries: -1})
		c.isInsecure = func(string) bool { return false } // as if the host were remote
		return c
	}
	_, _, err := newClient().Repository(mustName(t, host+"/x")).GetManifest(ctx, "latest")
	if err == nil || !strings.Contains(err.Error(), "TLS connection to registry "+host+" failed") ||
		!strings.Contains(err.Error(), "insecure-registries") || !strings.Contains(err.Error(), "/etc/hoist/certs.d/"+host+"/ca.crt") {
		t.Fatalf("TLS error: %v", err)
	}
	// install the CA in certs.d: it now verifies
	os.MkdirAll(filepath.Join(certs, host), 0o755)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	os.WriteFile(filepath.Join(certs, host, "ca.crt"), pemBytes, 0o644)
	if _, _, err := newClient().Repository(mustName(t, host+"/x")).GetManifest(ctx, "latest"); err != nil {
		t.Fatalf("with CA in certs.d: %v", err)
	}
	// a client cert without its key is a clear error
	os.WriteFile(filepath.Join(certs, host, "client.cert"), pemBytes, 0o644)
	_, _, err = newClient().Repository(mustName(t, host+"/x")).GetManifest(ctx, "latest")
	if err == nil || !strings.Contains(err.Error(), "has no key") {
		t.Fatalf("cert without key: %v", err)
	}
	// loopback registries are insecure: HTTPS without verification works
	c := New(Options{CertsDirs: []string{}})
	if _, _, err := c.Repository(mustName(t, host+"/x")).GetManifest(ctx, "latest"); err != nil {
		t.Fatalf("loopback TLS: %v", err)
	}
}

func TestConfig(t *testing.T) {
	c := Config{InsecureRegistries: []string{"reg.local:5000", "10.0.0.0/8", "plain.example"}}
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:1": true, "[::1]:5000": true, "127.9.9.9": true,
		"reg.local:5000": true, "reg.local:5001": false, "10.1.2.3:443": true, "11.0.0.1": false,
		"plain.example": true, "plain.example:8443": true, "docker.io": false,
	} {
		if got := c.IsInsecure(host); got != want {
			t.Errorf("IsInsecure(%q) = %v", host, got)
		}
	}
	p := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(p, []byte(`{"insecure-registries":["a:1"],"registry-mirrors":["https://mirror.example"],"debug":true}`), 0o644)
	cfg, err := LoadConfig(p)
	if err != nil || cfg.InsecureRegistries[0] != "a:1" || cfg.RegistryMirrors[0] != "https://mirror.example" {
		t.Fatalf("LoadConfig = %+v %v", cfg, err)
	}
	os.WriteFile(p, []byte(`{"registry-mirrors":["ftp://x"]}`), 0o644)
	if _, err := LoadConfig(p); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad mirror: %v", err)
	}
	if cfg, err := LoadConfig(filepath.Join(t.TempDir(), "none")); err != nil || len(cfg.InsecureRegistries) != 0 {
		t.Fatal("missing config file")
	}
	cl := New(Options{Config: Config{RegistryMirrors: []string{"http://127.0.0.1:1"}}})
	repos := cl.PullRepositories(mustName(t, "busybox"))
	if len(repos) != 2 || !repos[0].IsMirror() || repos[0].Registry() != "127.0.0.1:1" || repos[1].Registry() != "registry-1.docker.io" {
		t.Fatalf("mirrors: %v", repos)
	}
}

func TestSelectManifest(t *testing.T) {
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{
		{Digest: digest.FromString("amd64"), Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{Digest: digest.FromString("armv6"), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{Digest: digest.FromString("armv7"), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{Digest: digest.FromString("arm64"), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{Digest: digest.FromString("att"), Platform: &ocispec.Platform{OS: "unknown", Architecture: "unknown"}},
	}}
	b, _ := json.Marshal(idx)
	for in, want := range map[string]string{
		"linux/amd64": "amd64", "linux/arm64": "arm64", "linux/arm64/v8": "arm64", "linux/arm": "armv7",
		"linux/arm/v6": "armv6", "linux/aarch64": "arm64",
	} {
		p, err := ParsePlatform(in)
		if err != nil {
			t.Fatal(err)
		}
		d, err := SelectManifest(b, p)
		if err != nil || d.Digest != digest.FromString(want) {
			t.Errorf("%s: got %v %v, want %s", in, d.Digest, err, want)
		}
	}
	p, _ := ParsePlatform("linux/s390x")
	_, err := SelectManifest(b, p)
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "no matching manifest for linux/s390x") ||
		!strings.Contains(err.Error(), "linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8") || strings.Contains(err.Error(), "unknown") {
		t.Fatalf("no match: %v", err)
	}
	if _, err := ParsePlatform("linux"); !errdefs.IsInvalidArgument(err) {
		t.Fatal("bad platform accepted")
	}
}

func TestSearch(t *testing.T) {
	f := newFakeReg(t)
	f.authMode, f.user, f.pass = "basic", "u", "p"
	f.search = []SearchResult{
		{Name: "library/busybox", Description: "Busybox base image.", StarCount: 3, IsOfficial: true},
		{Name: "me/busybox-auto", StarCount: 10, IsAutomated: true},
		{Name: "me/busybox-old", StarCount: 0},
	}
	c := f.client(auth.Credentials{Username: "u", Password: "p"})
	res, err := c.Search(ctx, f.host()+"/busybox", 25, SearchFilter{})
	if err != nil || len(res) != 3 || res[0].Name != "me/busybox-auto" || res[2].StarCount != 0 {
		t.Fatalf("Search = %+v %v", res, err)
	}
	flt, err := ParseSearchFilters([]string{"stars=1", "is-official=true"})
	if err != nil {
		t.Fatal(err)
	}
	res, _ = c.Search(ctx, f.host()+"/busybox", 25, flt)
	if len(res) != 1 || res[0].Name != "library/busybox" {
		t.Fatalf("filtered = %+v", res)
	}
	if _, err := ParseSearchFilters([]string{"color=red"}); err == nil || err.Error() != "invalid filter 'color'" {
		t.Fatalf("bad filter: %v", err)
	}
	if _, err := c.Search(ctx, "x", 101, SearchFilter{}); err == nil || !strings.Contains(err.Error(), "outside the range of [1, 100]") {
		t.Fatalf("limit: %v", err)
	}
	anon := f.client(auth.Credentials{})
	if _, err := anon.Search(ctx, f.host()+"/busybox", 25, SearchFilter{}); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("anonymous search: %v", err)
	}
	for in, want := range map[string][2]string{
		"busybox": {"docker.io", "busybox"}, "me/busybox": {"docker.io", "me/busybox"},
		"localhost/x": {"localhost", "x"}, "127.0.0.1:5000/busy": {"127.0.0.1:5000", "busy"}, "reg.io/a/b": {"reg.io", "a/b"},
	} {
		if r, q := SplitSearchTerm(in); r != want[0] || q != want[1] {
			t.Errorf("SplitSearchTerm(%q) = %q %q", in, r, q)
		}
	}
}

func TestLogin(t *testing.T) {
	for _, mode := range []string{"basic", "bearer", ""} {
		f := newFakeReg(t)
		f.authMode, f.user, f.pass = mode, "alice", "pw"
		c := f.client(auth.Credentials{})
		if _, err := c.Login(ctx, f.host(), auth.Credentials{Username: "alice", Password: "pw"}); err != nil {
			t.Fatalf("%s: good login: %v", mode, err)
		}
		_, err := c.Login(ctx, f.host(), auth.Credentials{Username: "alice", Password: "bad"})
		if mode == "" {
			if err != nil {
				t.Fatalf("registry without auth: %v", err)
			}
			continue
		}
		if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "unauthorized: ") || !strings.Contains(err.Error(), f.srv.URL+"/v2/") {
			t.Fatalf("%s: bad login: %v", mode, err)
		}
	}
	// a token server that issues refresh tokens: login returns an identity
	// token, which then authenticates with the OAuth2 POST flow
	f := newFakeReg(t)
	f.authMode, f.user, f.pass = "bearer", "alice", "pw"
	got, err := f.client(auth.Credentials{}).Login(ctx, f.host(), auth.Credentials{Username: "alice", Password: "pw"})
	if err != nil || got.IdentityToken != "REFRESH-alice" || got.Password != "" {
		t.Fatalf("login with refresh token: %+v %v", got, err)
	}
	d := f.addBlob("r", []byte("x"))
	if ok, err := f.repo(f.client(got), "r").Exists(ctx, d); !ok || err != nil {
		t.Fatalf("identity token: %v %v", ok, err)
	}
	if ok, err := f.repo(f.client(auth.Credentials{IdentityToken: "stale"}), "r").Exists(ctx, d); ok || !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("stale identity token: %v %v", ok, err)
	}
	if RegistryName("https://index.docker.io/v1/") != "docker.io" || RegistryName("http://127.0.0.1:5000/") != "127.0.0.1:5000" {
		t.Fatal("RegistryName")
	}
}

func TestUnreachableRegistry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	c := New(Options{MaxRetries: -1, CertsDirs: []string{}})
	_, err := c.Repository(mustName(t, host+"/x")).Resolve(ctx, "latest")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), host) {
		t.Fatalf("unreachable: %v", err)
	}
}

// TestRetryingStatus: docker's words for a transfer waiting to retry.
func TestRetryingStatus(t *testing.T) {
	if got := RetryingStatus(1); got != "Retrying in 1 second" {
		t.Errorf("1: %q", got)
	}
	if got := RetryingStatus(5); got != "Retrying in 5 seconds" {
		t.Errorf("5: %q", got)
	}
}
