package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"golang.org/x/crypto/bcrypt"
)

// FuzzParseRoute: every path parses without panic, and a repository route
// is exactly the path it was parsed from (no part of the path is dropped
// or moved between name and argument).
func FuzzParseRoute(f *testing.F) {
	for _, p := range []string{"/v2/", "/v2", "/v2/_catalog", "/v2/a/b/tags/list", "/v2/a/manifests/latest",
		"/v2/a/b/blobs/sha256:00", "/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/id", "/v2/a/referrers/sha256:00",
		"/v1/search", "/v1/repositories/a/b/star", "/metrics", "/healthz", "/token", "/v2//manifests/x", "/v2/blobs/uploads/",
		"/v2/a/blobs/uploads/blobs/uploads/", "/v2/../manifests/x"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req := parseRoute(p)
		want := ""
		switch req.route {
		case routeTags:
			want = "/v2/" + req.name + "/tags/list"
		case routeManifest:
			want = "/v2/" + req.name + "/manifests/" + req.arg
		case routeReferrers:
			want = "/v2/" + req.name + "/referrers/" + req.arg
		case routeBlob:
			want = "/v2/" + req.name + "/blobs/" + req.arg
		case routeUpload:
			want = "/v2/" + req.name + "/blobs/uploads/" + req.arg
		case routeUploadStart:
			want = "/v2/" + req.name + "/blobs/uploads"
			if strings.HasSuffix(p, "/") {
				want += "/"
			}
		default:
			return
		}
		if want != p || req.name == "" {
			t.Fatalf("parseRoute(%q) = %+v, which names %q", p, req, want)
		}
	})
}

// FuzzHtpasswd: no content makes ParseHtpasswd panic or hang (bcrypt costs
// above htpasswd's 17 are refused, not computed), and every user it
// accepts verifies with its password only.
func FuzzHtpasswd(f *testing.F) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	for _, s := range []string{"alice:" + string(hash) + "\n", "# c\n\nbob:" + string(hash), "x", ":" + string(hash),
		"a:$2y$31$" + strings.Repeat("a", 53), "a:$2y$04$short", "a:{SHA}abc", "a:b:c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// A valid hash of a high cost (up to htpasswd's 17, accepted)
		// costs seconds per check, past the fuzzer's hang detection; the
		// properties below do not depend on the cost, and TestHtpasswd
		// and the seeds cover the cost limit itself.
		for _, line := range strings.Split(string(b), "\n") {
			if _, hash, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
				if c, err := bcrypt.Cost([]byte(hash)); err == nil && c > 10 && c <= maxBcryptCost {
					t.Skip("a slow bcrypt cost")
				}
			}
		}
		h, err := ParseHtpasswd(b, "htpasswd")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "htpasswd") && !strings.Contains(err.Error(), "token too long") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for user := range h.users {
			if h.Verify(user, "wrong password") {
				t.Fatalf("user %q verifies with a wrong password", user)
			}
		}
	})
}

// FuzzAuthorization: no Authorization header gets through a registry with
// basic auth and token auth on (the fuzzer knows neither the password nor
// the token key), and none makes the server panic or fail.
func FuzzAuthorization(f *testing.F) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	ht, err := ParseHtpasswd([]byte("alice:"+string(hash)+"\n"), "htpasswd")
	if err != nil {
		f.Fatal(err)
	}
	st, err := storage.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	tok, err := NewTokenAuth(make([]byte, 32), "fuzz", 0)
	if err != nil {
		f.Fatal(err)
	}
	basic := New(st, WithHtpasswd(ht, "fuzz"))
	token := New(st, WithHtpasswd(ht, "fuzz"), WithTokenAuth(tok))
	for _, s := range []string{"Basic YWxpY2U6d3Jvbmc=", "Basic YWxpY2U6", "Basic !!!", "Basic", "Bearer ", "Bearer a.b.c",
		"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "bearer x", "Digest x", ""} {
		f.Add(s, "/v2/")
		f.Add(s, "/v2/a/manifests/latest")
		f.Add(s, "/token?service=fuzz&scope=repository:a:pull")
	}
	f.Fuzz(func(t *testing.T, authz, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		for _, h := range []http.Handler{basic, token} {
			r := &http.Request{Method: "GET", URL: u, Header: http.Header{}, Host: "127.0.0.1", RemoteAddr: "127.0.0.1:1", RequestURI: target}
			r.Header.Set("Authorization", authz)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("GET %q with %q: %d %s", target, authz, w.Code, w.Body)
			}
			if u.Path == "/v2/" && w.Code != http.StatusUnauthorized {
				t.Fatalf("GET /v2/ with Authorization %q: %d, want 401", authz, w.Code)
			}
		}
	})
}

// FuzzPutManifest: whatever bytes and media type a client PUTs as a
// manifest or index, the server answers without panicking and without a
// 5xx; what it accepts it serves back byte for byte, by tag and by the
// digest it reported, with the media type it was given.
func FuzzPutManifest(f *testing.F) {
	st, err := storage.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	h := New(st)
	empty := "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + empty + `","size":2,"data":"e30="},"layers":[]}`
	// The config blob exists, so that the seed manifest is accepted and
	// the round trip is exercised.
	up := httptest.NewRecorder()
	h.ServeHTTP(up, httptest.NewRequest("POST", "/v2/fuzz/m/blobs/uploads/?digest="+empty, strings.NewReader("{}")))
	if up.Code != http.StatusCreated {
		f.Fatalf("upload the empty config: %d %s", up.Code, up.Body)
	}
	seed := httptest.NewRecorder()
	req := httptest.NewRequest("PUT", "/v2/fuzz/m/manifests/seed", strings.NewReader(manifest))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	h.ServeHTTP(seed, req)
	if seed.Code != http.StatusCreated {
		f.Fatalf("the seed manifest is refused: %d %s", seed.Code, seed.Body)
	}
	for _, s := range []struct{ body, mt string }{
		{manifest, "application/vnd.oci.image.manifest.v1+json"},
		{`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, "application/vnd.oci.image.index.v1+json"},
		{`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"digest":"sha256:00","size":1}]}`, "application/vnd.docker.distribution.manifest.list.v2+json"},
		{`{"schemaVersion":2,"config":{"digest":"sha256:zz","size":-1},"layers":[{"digest":"` + empty + `","size":2}],"subject":{"digest":"` + empty + `"}}`, "application/vnd.docker.distribution.manifest.v2+json"},
		{`{"schemaVersion":1}`, "application/vnd.docker.distribution.manifest.v1+prettyjws"},
		{"", ""}, {"null", "application/json"}, {"[", "text/plain"},
	} {
		f.Add([]byte(s.body), s.mt)
	}
	f.Fuzz(func(t *testing.T, body []byte, mt string) {
		if strings.ContainsAny(mt, "\r\n") {
			return
		}
		put := httptest.NewRequest("PUT", "/v2/fuzz/m/manifests/t", bytes.NewReader(body))
		put.Header.Set("Content-Type", mt)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, put)
		if w.Code >= 500 {
			t.Fatalf("PUT %q (%s): %d %s", body, mt, w.Code, w.Body)
		}
		if w.Code != http.StatusCreated {
			return
		}
		dg := w.Header().Get("Docker-Content-Digest")
		for _, ref := range []string{"t", dg} {
			get := httptest.NewRequest("GET", "/v2/fuzz/m/manifests/"+ref, nil)
			get.Header.Set("Accept", mt)
			g := httptest.NewRecorder()
			h.ServeHTTP(g, get)
			if g.Code != http.StatusOK || !bytes.Equal(g.Body.Bytes(), body) {
				t.Fatalf("GET %s after PUT %q: %d %q", ref, body, g.Code, g.Body)
			}
			if got := g.Header().Get("Content-Type"); mt != "" && got != mt {
				t.Fatalf("GET %s: Content-Type %q, PUT with %q", ref, got, mt)
			}
		}
	})
}
