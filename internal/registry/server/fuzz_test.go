package server

import (
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
