package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
)

type testRegistry struct {
	t     *testing.T
	srv   *httptest.Server
	store *storage.Store
	root  string
	user  string
	pass  string
}

func newTestRegistry(t *testing.T, opts ...Option) *testRegistry {
	t.Helper()
	root := t.TempDir()
	return newTestRegistryAt(t, root, opts...)
}

func newTestRegistryAt(t *testing.T, root string, opts ...Option) *testRegistry {
	t.Helper()
	st, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(st, opts...))
	t.Cleanup(srv.Close)
	return &testRegistry{t: t, srv: srv, store: st, root: root}
}

// do sends a request; body may be nil, []byte or string.
func (r *testRegistry) do(method, path string, body any, hdr ...string) *http.Response {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = r.srv.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp
}

// expect checks the status (and, for errors, the code) and returns the body.
func (r *testRegistry) expect(resp *http.Response, status int, code string) []byte {
	r.t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status {
		r.t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
	if code != "" {
		var eb errorBody
		if err := json.Unmarshal(b, &eb); err != nil || len(eb.Errors) == 0 {
			r.t.Fatalf("%s %s: no error body: %s", resp.Request.Method, resp.Request.URL.Path, b)
		}
		if eb.Errors[0].Code != code {
			r.t.Fatalf("%s %s: code %s, want %s: %s", resp.Request.Method, resp.Request.URL.Path, eb.Errors[0].Code, code, b)
		}
	}
	return b
}

func (r *testRegistry) pushBlob(repo string, data []byte) digest.Digest {
	r.t.Helper()
	d := digest.FromBytes(data)
	r.expect(r.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), data), http.StatusCreated, "")
	return d
}

type testImage struct {
	config, layer   []byte
	configD, layerD digest.Digest
	manifest        []byte
	manifestD       digest.Digest
}

// image builds (and, with push, uploads the blobs of) a one-layer OCI image.
func (r *testRegistry) image(repo, desc string, push bool) testImage {
	r.t.Helper()
	var im testImage
	im.layer = []byte("layer of " + repo + desc)
	im.config = []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Labels":{"org.opencontainers.image.description":%q}},"rootfs":{"type":"layers","diff_ids":[]}}`, desc))
	im.layerD, im.configD = digest.FromBytes(im.layer), digest.FromBytes(im.config)
	if push {
		r.pushBlob(repo, im.layer)
		r.pushBlob(repo, im.config)
	}
	im.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		im.configD, len(im.config), im.layerD, len(im.layer)))
	im.manifestD = digest.FromBytes(im.manifest)
	return im
}

func (r *testRegistry) putManifest(repo, ref, mt string, body []byte) *http.Response {
	r.t.Helper()
	return r.do("PUT", "/v2/"+repo+"/manifests/"+ref, body, "Content-Type", mt)
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"
