package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/hoistproject/hoist/internal/registry/server/storage/s3test"
	"github.com/opencontainers/go-digest"
)

// realImage is a one-layer image whose layer is a gzipped tar holding one
// file, so that hoist pull accepts it.
type realImage struct {
	layer, config, manifest    []byte
	layerD, configD, manifestD digest.Digest
}

func newRealImage(t *testing.T, text string) realImage {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
	tw.Write([]byte(text))
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tb.Bytes())
	zw.Close()
	var im realImage
	im.layer = gz.Bytes()
	im.layerD = digest.FromBytes(im.layer)
	im.config = fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","config":{"Cmd":["/hello"]},"rootfs":{"type":"layers","diff_ids":[%q]}}`, digest.FromBytes(tb.Bytes()))
	im.configD = digest.FromBytes(im.config)
	im.manifest = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
		im.configD, len(im.config), im.layerD, len(im.layer))
	im.manifestD = digest.FromBytes(im.manifest)
	return im
}

// httpDo sends one request to the absolute URL u and returns the status,
// headers and body.
func httpDo(t *testing.T, method, u string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	resp := (&testRegistry{t: t}).do(method, u, body, hdr...)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// push uploads im to the registry at base as repo:tag.
func (im realImage) push(t *testing.T, base, repo, tag string) {
	t.Helper()
	for _, b := range [][]byte{im.layer, im.config} {
		if code, _, body := httpDo(t, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(b).String(), b); code != http.StatusCreated {
			t.Fatalf("pushing a blob to %s: %d %s", base, code, body)
		}
	}
	if code, _, body := httpDo(t, "PUT", base+"/v2/"+repo+"/manifests/"+tag, im.manifest, "Content-Type", ociManifest); code != http.StatusCreated {
		t.Fatalf("pushing the manifest to %s: %d %s", base, code, body)
	}
}

// hoistPull runs hoist pull ref with a fresh client root and returns its
// output.
func hoistPull(t *testing.T, bin, ref string) (string, error) {
	t.Helper()
	root := t.TempDir()
	cmd := exec.Command(bin, "--root", root, "pull", ref)
	cmd.Env = append(os.Environ(), "HOIST_CONFIG="+filepath.Join(root, "none.json"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// manifestDigest is the digest the registry at base answers for repo:ref.
func manifestDigest(t *testing.T, base, repo, ref string) string {
	t.Helper()
	code, h, body := httpDo(t, "GET", base+"/v2/"+repo+"/manifests/"+ref, nil, "Accept", ociManifest)
	if code != http.StatusOK {
		t.Fatalf("GET %s:%s from %s: %d %s", repo, ref, base, code, body)
	}
	return h.Get("Docker-Content-Digest")
}

// TestProxyPullThrough: hoist registry serve --proxy-remote in front of
// another hoist registry serve: hoist pull through the cache stores the
// image; with the upstream stopped a fresh client pulls it again from the
// cache; a tag moved upstream is seen once the cached tag is older than
// the TTL (and not before); pushes and deletes are refused.
func TestProxyPullThrough(t *testing.T) {
	bin := hoistBinary(t)
	upRoot, upAddr := t.TempDir(), freeAddr(t)
	up := startHoist(t, bin, upRoot, upAddr)
	upBase := "http://" + upAddr
	v1 := newRealImage(t, "version one")
	v1.push(t, upBase, "team/app", "stable")

	cacheRoot, cacheAddr := t.TempDir(), freeAddr(t)
	startHoist(t, bin, cacheRoot, cacheAddr, "--proxy-remote", upBase, "--proxy-ttl", "1h")
	cacheBase := "http://" + cacheAddr

	if out, err := hoistPull(t, bin, cacheAddr+"/team/app:stable"); err != nil {
		t.Fatalf("pull through the cache: %v\n%s", err, out)
	}
	for _, d := range []digest.Digest{v1.layerD, v1.configD, v1.manifestD} {
		if _, err := os.Stat(filepath.Join(cacheRoot, "blobs", "sha256", d.Encoded())); err != nil {
			t.Fatalf("blob %s not cached: %v", d, err)
		}
	}

	// Upstream down: served from the cache, by tag too (also once the
	// tag is due for revalidation).
	up.Process.Kill()
	up.Wait()
	if out, err := hoistPull(t, bin, cacheAddr+"/team/app:stable"); err != nil {
		t.Fatalf("pull from the cache with the upstream stopped: %v\n%s", err, out)
	}
	tagFile := filepath.Join(cacheRoot, "repositories", "team", "app", "_manifests", "tags", "stable")
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(tagFile, old, old)
	if out, err := hoistPull(t, bin, cacheAddr+"/team/app:stable"); err != nil {
		t.Fatalf("pull of a stale tag with the upstream stopped: %v\n%s", err, out)
	}
	// What was never cached is a 502 naming the upstream failure.
	if code, _, body := httpDo(t, "GET", cacheBase+"/v2/team/app/manifests/other", nil); code != http.StatusBadGateway {
		t.Fatalf("uncached tag with the upstream down: %d %s", code, body)
	}

	// The tag moves upstream: within the TTL the cache keeps v1, after it
	// the cache asks and serves v2.
	startHoist(t, bin, upRoot, upAddr)
	v2 := newRealImage(t, "version two")
	v2.push(t, upBase, "team/app", "stable")
	os.Chtimes(tagFile, time.Now(), time.Now())
	if got := manifestDigest(t, cacheBase, "team/app", "stable"); got != v1.manifestD.String() {
		t.Fatalf("within the TTL the cache answered %s, want the cached %s", got, v1.manifestD)
	}
	os.Chtimes(tagFile, old, old)
	if got := manifestDigest(t, cacheBase, "team/app", "stable"); got != v2.manifestD.String() {
		t.Fatalf("after the TTL the cache answered %s, want the upstream's %s", got, v2.manifestD)
	}
	if out, err := hoistPull(t, bin, cacheAddr+"/team/app:stable"); err != nil || !strings.Contains(out, v2.manifestD.String()) {
		t.Fatalf("pull of the moved tag: %v\n%s", err, out)
	}

	// Pushes and deletes are refused as registry:2 refuses them.
	for _, rq := range []struct{ method, path string }{
		{"POST", "/v2/team/app/blobs/uploads/"},
		{"PUT", "/v2/team/app/manifests/mine"},
		{"DELETE", "/v2/team/app/manifests/" + v1.manifestD.String()},
	} {
		code, _, body := httpDo(t, rq.method, cacheBase+rq.path, v1.manifest, "Content-Type", ociManifest)
		if code != http.StatusMethodNotAllowed || !strings.Contains(string(body), `"UNSUPPORTED"`) {
			t.Fatalf("%s %s on the cache: %d %s", rq.method, rq.path, code, body)
		}
	}
}

// corruptUpstream serves image im as repo:latest, with wrong bytes for its
// layer.
func corruptUpstream(t *testing.T, im realImage, repo string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			w.WriteHeader(http.StatusOK)
		case "/v2/" + repo + "/manifests/latest", "/v2/" + repo + "/manifests/" + im.manifestD.String():
			w.Header().Set("Content-Type", ociManifest)
			w.Header().Set("Docker-Content-Digest", im.manifestD.String())
			w.Write(im.manifest)
		case "/v2/" + repo + "/blobs/" + im.layerD.String():
			bad := bytes.Clone(im.layer)
			bad[len(bad)/2] ^= 0xff
			w.Write(bad)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestProxyRejectsCorruptUpstream: a blob whose upstream bytes do not hash
// to its digest is refused (502) and nothing of it is stored.
func TestProxyRejectsCorruptUpstream(t *testing.T) {
	im := newRealImage(t, "corrupt me")
	up := corruptUpstream(t, im, "bad/img")
	p, err := NewProxy(ProxyConfig{RemoteURL: up.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := newTestRegistry(t, WithProxy(p))
	reg.expect(reg.do("GET", "/v2/bad/img/manifests/latest", nil), http.StatusOK, "")
	body := reg.expect(reg.do("GET", "/v2/bad/img/blobs/"+im.layerD.String(), nil), http.StatusBadGateway, "UNKNOWN")
	if !strings.Contains(string(body), "digest") {
		t.Fatalf("the error does not name the digest mismatch: %s", body)
	}
	if reg.store.BlobExists(context.Background(), im.layerD) {
		t.Fatal("the corrupt blob was stored")
	}
	var leftovers []string
	filepath.Walk(reg.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Size() == int64(len(im.layer)) {
			leftovers = append(leftovers, p)
		}
		return nil
	})
	if len(leftovers) > 0 {
		t.Fatalf("corrupt bytes left behind: %v", leftovers)
	}
}

// TestProxyOnS3: the cache on the S3 driver fetches and stores a pulled
// image; with the upstream gone it serves it from the bucket, also once
// the cached tag is older than the TTL.
func TestProxyOnS3(t *testing.T) {
	upstream := newTestRegistry(t)
	im := newRealImage(t, "s3 cached")
	im.push(t, upstream.srv.URL, "lib/x", "v1")

	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	st, err := storage.OpenS3(context.Background(), storage.S3Config{Bucket: bucket, RegionEndpoint: srv.Endpoint,
		ForcePathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProxy(ProxyConfig{RemoteURL: upstream.srv.URL, TTL: Duration(time.Hour)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(New(st, WithProxy(p)))
	t.Cleanup(hs.Close)
	cache := &testRegistry{t: t, srv: hs, store: st}
	pull := func() {
		t.Helper()
		if got := manifestDigest(t, hs.URL, "lib/x", "v1"); got != im.manifestD.String() {
			t.Fatalf("manifest digest %s, want %s", got, im.manifestD)
		}
		for _, b := range [][]byte{im.config, im.layer} {
			got := cache.expect(cache.do("GET", "/v2/lib/x/blobs/"+digest.FromBytes(b).String(), nil), http.StatusOK, "")
			if !bytes.Equal(got, b) {
				t.Fatalf("blob %s: wrong bytes", digest.FromBytes(b))
			}
		}
	}
	pull()
	for _, d := range []digest.Digest{im.layerD, im.configD, im.manifestD} {
		if !st.BlobExists(context.Background(), d) {
			t.Fatalf("%s not in the bucket", d)
		}
	}
	upstream.srv.Close()
	pull()
	if err := srv.Age(bucket, "repositories/lib/x/_manifests/tags", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	pull()
}

// TestProxyConfig: the proxy section comes from the file (distribution's
// keys), HOIST_REGISTRY_PROXY_* and --proxy-* flags; bad values are refused
// naming what is wrong.
func TestProxyConfig(t *testing.T) {
	if d := DefaultConfig(); time.Duration(d.Proxy.TTL) != 10*time.Minute {
		t.Fatalf("default ttl %s", time.Duration(d.Proxy.TTL))
	}
	cfg := configFrom(t, `{"proxy":{"remoteurl":"https://registry-1.docker.io","username":"u","ttl":"5m"}}`,
		map[string]string{"HOIST_REGISTRY_PROXY_PASSWORD": "secret"}, "proxy-ttl", "90s")
	if !reflect.DeepEqual(cfg.Proxy, ProxyConfig{RemoteURL: "https://registry-1.docker.io", Username: "u", Password: "secret", TTL: Duration(90 * time.Second)}) {
		t.Fatalf("proxy config: %+v", cfg.Proxy)
	}
	if err := cfg.Set("proxy-remote", "http://127.0.0.1:5001"); err != nil || cfg.Proxy.RemoteURL != "http://127.0.0.1:5001" {
		t.Fatalf("--proxy-remote: %v %+v", err, cfg.Proxy)
	}
	if _, err := NewProxy(cfg.Proxy, nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []ProxyConfig{
		{},
		{Username: "u", Password: "p"},
		{RemoteURL: "https://user:pw@host"},
		{Remotes: map[string]ProxyRemote{"ghcr.io": {RemoteURL: "ghcr.io"}}},
		{Remotes: map[string]ProxyRemote{"GHCR.io": {RemoteURL: "https://ghcr.io"}}},
		{Remotes: map[string]ProxyRemote{"myregistry": {RemoteURL: "https://ghcr.io"}}},
		{Remotes: map[string]ProxyRemote{"ghcr.io": {RemoteURL: "https://ghcr.io", Password: "p"}}},
		{RemoteURL: "registry-1.docker.io"},
		{RemoteURL: "ftp://host"},
		{RemoteURL: "https://host/some/path"},
		{RemoteURL: "https://host", Username: "u"},
		{RemoteURL: "https://host", TTL: Duration(-time.Second)},
	} {
		if _, err := NewProxy(bad, nil); err == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
}
