package server

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/hoistproject/hoist/internal/registry/server/storage/s3test"
	"github.com/opencontainers/go-digest"
)

// TestProxySeveralUpstreams: one cache (hoist registry serve) in front of
// two registries: --proxy-remote URL for unprefixed names and
// --proxy-remote ghcr.io=URL for ghcr.io/...; hoist pulls each image
// through it by its name (and by containerd's ?ns=ghcr.io), pushes get
// registry:2's 405 (docker push shows its words); without a default
// upstream an unprefixed name is unknown, and with --proxy-allow-push it
// is a local repository that takes pushes while cached ones still refuse.
func TestProxySeveralUpstreams(t *testing.T) {
	bin := hoistBinary(t)
	hubAddr, ghAddr := freeAddr(t), freeAddr(t)
	startHoist(t, bin, t.TempDir(), hubAddr)
	startHoist(t, bin, t.TempDir(), ghAddr)
	hub, gh := newRealImage(t, "from the hub"), newRealImage(t, "from ghcr")
	hub.push(t, "http://"+hubAddr, "library/app", "v1")
	gh.push(t, "http://"+ghAddr, "owner/app", "v1")

	cacheAddr := freeAddr(t)
	startHoist(t, bin, t.TempDir(), cacheAddr, "--proxy-remote", "http://"+hubAddr, "--proxy-remote", "ghcr.io=http://"+ghAddr)
	cache := "http://" + cacheAddr
	for ref, want := range map[string]digest.Digest{"library/app:v1": hub.manifestD, "ghcr.io/owner/app:v1": gh.manifestD} {
		if out, err := hoistPull(t, bin, cacheAddr+"/"+ref); err != nil || !strings.Contains(out, want.String()) {
			t.Fatalf("pull %s through the cache (want %s): %v\n%s", ref, want, err, out)
		}
	}
	if got := manifestDigest(t, cache, "owner/app", "v1?ns=ghcr.io"); got != gh.manifestD.String() {
		t.Fatalf("?ns=ghcr.io: %s, want %s", got, gh.manifestD)
	}
	// ghcr.io's image is not at the default upstream.
	if code, _, body := httpDo(t, "GET", cache+"/v2/owner/app/manifests/v1", nil); code != http.StatusNotFound {
		t.Fatalf("owner/app at the default upstream: %d %s", code, body)
	}
	for _, repo := range []string{"library/app", "ghcr.io/owner/app"} {
		code, _, body := httpDo(t, "POST", cache+"/v2/"+repo+"/blobs/uploads/", nil)
		if code != http.StatusMethodNotAllowed || !strings.Contains(string(body), `"message":"The operation is unsupported."`) {
			t.Fatalf("push to %s on the cache: %d %s", repo, code, body)
		}
	}
	if _, err := exec.LookPath("docker"); err == nil {
		if err := exec.Command("docker", "version").Run(); err == nil {
			ref := cacheAddr + "/ghcr.io/owner/pushed:v1"
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
			if out, err := exec.Command("docker", "import", rootfsTar(t, 1000), ref).CombinedOutput(); err != nil {
				t.Fatalf("docker import: %v\n%s", err, out)
			}
			out, err := exec.Command("docker", "push", ref).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "The operation is unsupported") {
				t.Fatalf("docker push to the cache: %v\n%s", err, out)
			}
		}
	}

	// Only upstreams by host: unprefixed names are unknown, or local with
	// --proxy-allow-push.
	onlyAddr := freeAddr(t)
	startHoist(t, bin, t.TempDir(), onlyAddr, "--proxy-remote", "ghcr.io=http://"+ghAddr)
	code, _, body := httpDo(t, "GET", "http://"+onlyAddr+"/v2/library/app/manifests/v1", nil)
	if code != http.StatusNotFound || !strings.Contains(string(body), "NAME_UNKNOWN") || !strings.Contains(string(body), "ghcr.io=http://"+ghAddr) {
		t.Fatalf("a name no upstream serves: %d %s", code, body)
	}
	localAddr := freeAddr(t)
	startHoist(t, bin, t.TempDir(), localAddr, "--proxy-remote", "ghcr.io=http://"+ghAddr, "--proxy-allow-push")
	local := "http://" + localAddr
	mine := newRealImage(t, "pushed locally")
	mine.push(t, local, "team/mine", "v1")
	if out, err := hoistPull(t, bin, localAddr+"/team/mine:v1"); err != nil || !strings.Contains(out, mine.manifestD.String()) {
		t.Fatalf("pull of the local repository: %v\n%s", err, out)
	}
	if out, err := hoistPull(t, bin, localAddr+"/ghcr.io/owner/app:v1"); err != nil || !strings.Contains(out, gh.manifestD.String()) {
		t.Fatalf("pull through the cache beside local repositories: %v\n%s", err, out)
	}
	if code, _, body := httpDo(t, "PUT", local+"/v2/ghcr.io/owner/app/manifests/v2", mine.manifest, "Content-Type", ociManifest); code != http.StatusMethodNotAllowed {
		t.Fatalf("push into a cached repository with --proxy-allow-push: %d %s", code, body)
	}
}

// TestProxyRemoteSetting: proxy_remote takes URL or HOST=URL, repeated or
// comma-separated, and keeps the file's credentials of a host; bad hosts
// are refused naming them.
func TestProxyRemoteSetting(t *testing.T) {
	cfg := configFrom(t, `{"proxy":{"remotes":{"ghcr.io":{"remoteurl":"https://old.example","username":"u","password":"p"}}}}`,
		map[string]string{"HOIST_REGISTRY_PROXY_REMOTE": "https://mirror.example, quay.io=https://quay.example"},
		"proxy-remote", "ghcr.io=https://ghcr.example")
	want := map[string]ProxyRemote{"ghcr.io": {RemoteURL: "https://ghcr.example", Username: "u", Password: "p"}, "quay.io": {RemoteURL: "https://quay.example"}}
	if cfg.Proxy.RemoteURL != "https://mirror.example" || !reflect.DeepEqual(cfg.Proxy.Remotes, want) {
		t.Fatalf("proxy: %+v", cfg.Proxy)
	}
	p, err := NewProxy(cfg.Proxy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.String(); s != "https://mirror.example (default), ghcr.io=https://ghcr.example, quay.io=https://quay.example" {
		t.Fatalf("upstreams: %s", s)
	}
	for _, bad := range []string{"GHCR.IO=https://x", "localhost:5000=http://x", "nodot=https://x", "a/b.io=https://x"} {
		if err := cfg.Set("proxy_remote", bad); err == nil || !strings.Contains(err.Error(), strings.Split(bad, "=")[0]) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// configFrom is the configuration from the file text, then the
// environment, then the key/value pairs of flags.
func configFrom(t *testing.T, file string, env map[string]string, flags ...string) Config {
	t.Helper()
	name := filepath.Join(t.TempDir(), "cfg.json")
	os.WriteFile(name, []byte(file), 0o600)
	cfg := DefaultConfig()
	if err := cfg.LoadConfigFile(name); err != nil {
		t.Fatal(err)
	}
	if err := cfg.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(flags); i += 2 {
		if err := cfg.Set(flags[i], flags[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// TestProxyUnreachableUpstream: what the cache does not hold, with an
// upstream nothing listens at, is a 502 naming the upstream and the
// failure.
func TestProxyUnreachableUpstream(t *testing.T) {
	dead := "http://" + freeAddr(t)
	p, err := NewProxy(ProxyConfig{RemoteURL: dead}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := newTestRegistry(t, WithProxy(p))
	for _, path := range []string{"/v2/lib/x/manifests/v1", "/v2/lib/x/blobs/" + digest.FromString("x").String()} {
		body := reg.expect(reg.do("GET", path, nil), http.StatusBadGateway, "UNKNOWN")
		if !bytes.Contains(body, []byte("upstream "+dead)) || !bytes.Contains(body, []byte("connection refused")) {
			t.Fatalf("GET %s: %s", path, body)
		}
	}
}

// TestProxyRejectsCorruptUpstreamOnS3: a corrupt blob of several parts
// fetched by a cache on S3 is refused (502) and leaves nothing in the
// bucket: no object and no multipart upload holds its bytes.
func TestProxyRejectsCorruptUpstreamOnS3(t *testing.T) {
	im := newRealImage(t, "corrupt on s3")
	im.layer = bytes.Repeat([]byte("0123456789abcdef"), 12<<16) // 12 MiB
	im.layerD = digest.FromBytes(im.layer)
	up := corruptUpstream(t, im, "bad/img")
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	st, err := storage.OpenS3(context.Background(), storage.S3Config{Bucket: bucket, RegionEndpoint: srv.Endpoint,
		ForcePathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, ChunkSize: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProxy(ProxyConfig{RemoteURL: up.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(New(st, WithProxy(p)))
	t.Cleanup(hs.Close)
	reg := &testRegistry{t: t, srv: hs, store: st}
	body := reg.expect(reg.do("GET", "/v2/bad/img/blobs/"+im.layerD.String(), nil), http.StatusBadGateway, "UNKNOWN")
	if !bytes.Contains(body, []byte("digest")) {
		t.Fatalf("the error does not name the digest mismatch: %s", body)
	}
	if st.BlobExists(context.Background(), im.layerD) {
		t.Fatal("the corrupt blob was stored")
	}
	// versitygw keeps objects and multipart parts as files under the
	// bucket's directory: none may hold a part's worth of bytes.
	filepath.WalkDir(filepath.Join(srv.Dir, bucket), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil && fi.Size() >= 1<<20 {
				t.Errorf("corrupt bytes left in the bucket: %s (%d bytes)", p, fi.Size())
			}
		}
		return nil
	})
}
