package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func tokenRegistry(t *testing.T, ttl time.Duration) *testRegistry {
	ta, err := NewTokenAuth([]byte(strings.Repeat("k", 32)), "", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return newTestRegistry(t,
		WithHtpasswd(htpasswdFor(t, "alice", "a", "bob", "b"), "r"),
		WithTokenAuth(ta),
		WithAccessRules([]AccessRule{{Repository: "private/**", Read: []string{"alice"}, Write: []string{"alice"}}}))
}

func (r *testRegistry) token(user, pass string, scopes ...string) string {
	r.t.Helper()
	q := url.Values{"service": {"hoist-registry"}, "scope": scopes}
	req, _ := http.NewRequest("GET", r.srv.URL+"/token?"+q.Encode(), nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	b := r.expect(resp, http.StatusOK, "")
	var v struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Token == "" || v.Token != v.AccessToken || v.ExpiresIn <= 0 {
		r.t.Fatalf("token response: %s", b)
	}
	return v.Token
}

func TestTokenFlow(t *testing.T) {
	r := tokenRegistry(t, 0)
	resp := r.do("GET", "/v2/", nil)
	r.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")
	want := `Bearer realm="` + r.srv.URL + `/token",service="hoist-registry"`
	if got := resp.Header.Get("WWW-Authenticate"); got != want {
		t.Fatalf("challenge %q, want %q", got, want)
	}
	resp = r.do("POST", "/v2/a/b/blobs/uploads/", nil)
	r.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")
	if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `scope="repository:a/b:pull,push"`) {
		t.Fatalf("push challenge %q", got)
	}
	// /token wants valid credentials.
	req, _ := http.NewRequest("GET", r.srv.URL+"/token?scope=repository:a/b:pull", nil)
	req.SetBasicAuth("alice", "wrong")
	wr, _ := http.DefaultClient.Do(req)
	r.expect(wr, http.StatusUnauthorized, "UNAUTHORIZED")

	push := r.token("alice", "a", "repository:a/b:pull,push")
	r.expect(r.do("POST", "/v2/a/b/blobs/uploads/", nil, "Authorization", "Bearer "+push), http.StatusAccepted, "")
	r.expect(r.do("GET", "/v2/", nil, "Authorization", "Bearer "+push), http.StatusOK, "")
	// A pull-only token cannot push, nor touch another repository.
	pull := r.token("alice", "a", "repository:a/b:pull")
	resp = r.do("POST", "/v2/a/b/blobs/uploads/", nil, "Authorization", "Bearer "+pull)
	r.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")
	if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) {
		t.Fatalf("insufficient scope challenge %q", got)
	}
	r.expect(r.do("GET", "/v2/other/tags/list", nil, "Authorization", "Bearer "+pull), http.StatusUnauthorized, "UNAUTHORIZED")
	// Tampered and foreign tokens are refused.
	bad := push[:len(push)-2] + "xx"
	r.expect(r.do("GET", "/v2/", nil, "Authorization", "Bearer "+bad), http.StatusUnauthorized, "UNAUTHORIZED")
	other, _ := NewTokenAuth([]byte(strings.Repeat("z", 32)), "", 0)
	forged := other.sign(tokenClaims{Subject: "alice", Audience: "hoist-registry", Expires: time.Now().Add(time.Hour).Unix(),
		Access: []tokenAccess{{Type: "repository", Name: "a/b", Actions: []string{"push", "pull"}}}})
	r.expect(r.do("GET", "/v2/", nil, "Authorization", "Bearer "+forged), http.StatusUnauthorized, "UNAUTHORIZED")
	// Scopes are cut down to the access rules.
	// what they forbid is DENIED, not a request to authenticate.
	bobs := r.token("bob", "b", "repository:private/x:pull,push")
	r.expect(r.do("GET", "/v2/private/x/tags/list", nil, "Authorization", "Bearer "+bobs), http.StatusForbidden, "DENIED")
	// Basic credentials keep working.
	r.user, r.pass = "alice", "a"
	r.expect(r.do("GET", "/v2/", nil), http.StatusOK, "")
}

func TestTokenExpires(t *testing.T) {
	r := tokenRegistry(t, time.Second)
	tok := r.token("alice", "a", "repository:a:pull")
	c, err := r.srv.Config.Handler.(*Server).token.verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	expired := r.srv.Config.Handler.(*Server).token.sign(tokenClaims{Subject: c.Subject, Audience: c.Audience, Expires: time.Now().Add(-time.Minute).Unix(), Access: c.Access})
	r.expect(r.do("GET", "/v2/", nil, "Authorization", "Bearer "+expired), http.StatusUnauthorized, "UNAUTHORIZED")
}

// TestTokenRealmIgnoresHost: a forged Host header does not change the realm
// of the Bearer challenge, neither the default one (the local address the
// connection arrived on) nor a configured one.
func TestTokenRealmIgnoresHost(t *testing.T) {
	challenge := func(r *testRegistry) string {
		t.Helper()
		req, _ := http.NewRequest("GET", r.srv.URL+"/v2/", nil)
		req.Host = "evil.example:666"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")
		return resp.Header.Get("WWW-Authenticate")
	}
	r := tokenRegistry(t, 0)
	if got, want := challenge(r), `Bearer realm="`+r.srv.URL+`/token",service="hoist-registry"`; got != want {
		t.Fatalf("default realm with a forged Host: %q, want %q", got, want)
	}
	ta, _ := NewTokenAuth([]byte(strings.Repeat("k", 32)), "", 0)
	r = newTestRegistry(t, WithHtpasswd(htpasswdFor(t, "alice", "a"), "r"), WithTokenAuth(ta), WithTokenRealm("https://reg.example.com/token"))
	if got, want := challenge(r), `Bearer realm="https://reg.example.com/token",service="hoist-registry"`; got != want {
		t.Fatalf("configured realm with a forged Host: %q, want %q", got, want)
	}
	for _, bad := range []string{"reg.example.com/token", "ftp://x/token", "https:///token"} {
		if CheckTokenRealm(bad) == nil {
			t.Errorf("token realm %q accepted", bad)
		}
	}
}

// TestServeTokenRealmFlag: `hoist registry serve --token-realm` advertises
// the configured realm whatever Host header a client sends, and refuses a
// realm that is not an absolute URL.
func TestServeTokenRealmFlag(t *testing.T) {
	bin := hoistBinary(t)
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("a"), bcrypt.MinCost)
	pw := filepath.Join(dir, "htpasswd")
	os.WriteFile(pw, []byte("alice:"+string(hash)+"\n"), 0o600)
	addr := freeAddr(t)
	startHoist(t, bin, filepath.Join(dir, "root"), addr, "--htpasswd", pw, "--token-key", filepath.Join(dir, "key"),
		"--token-realm", "https://reg.example.com/token")
	req, _ := http.NewRequest("GET", "http://"+addr+"/v2/", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="https://reg.example.com/token",`) {
		t.Fatalf("challenge %q", got)
	}
	out, err := exec.Command(bin, "registry", "serve", "--root", filepath.Join(dir, "root2"), "--addr", freeAddr(t),
		"--htpasswd", pw, "--token-key", filepath.Join(dir, "key"), "--token-realm", "reg.example.com/token").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "absolute http(s) URL") {
		t.Fatalf("bad realm accepted: %v %s", err, out)
	}
}

// TestAnonymousReadsAndTokenScopes: "anonymous" in a read list opens pulls
// without credentials (basic and token mode) and nothing else; in token
// mode _catalog needs the registry:catalog:* scope, and a push the rules
// forbid is DENIED rather than "authentication required".
func TestAnonymousReadsAndTokenScopes(t *testing.T) {
	rules := []AccessRule{
		{Repository: "public/**", Read: []string{Anonymous}, Write: []string{"alice"}},
		{Repository: "members/**", Read: []string{"*"}, Write: []string{"alice"}},
		{Repository: "private/**", Read: []string{"alice"}, Write: []string{"alice"}},
	}
	ta, _ := NewTokenAuth([]byte(strings.Repeat("k", 32)), "", 0)
	for _, mode := range []string{"basic", "token"} {
		t.Run(mode, func(t *testing.T) {
			opts := []Option{WithHtpasswd(htpasswdFor(t, "alice", "a", "bob", "b"), "r"), WithAccessRules(rules)}
			if mode == "token" {
				opts = append(opts, WithTokenAuth(ta))
			}
			r := newTestRegistry(t, opts...)
			r.user, r.pass = "alice", "a"
			for _, repo := range []string{"public/x", "members/x", "private/x"} {
				im := r.image(repo, "d", true)
				r.expect(r.putManifest(repo, "v1", ociManifest, im.manifest), http.StatusCreated, "")
			}
			r.user, r.pass = "", ""
			r.expect(r.do("GET", "/v2/public/x/manifests/v1", nil, "Accept", ociManifest), http.StatusOK, "")
			r.expect(r.do("GET", "/v2/public/x/tags/list", nil), http.StatusOK, "")
			for _, path := range []string{"/v2/members/x/manifests/v1", "/v2/private/x/manifests/v1", "/v2/", "/v2/_catalog"} {
				resp := r.do("GET", path, nil)
				r.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("%s: no challenge", path)
				}
			}
			r.expect(r.do("POST", "/v2/public/x/blobs/uploads/", nil), http.StatusUnauthorized, "UNAUTHORIZED")
			if mode == "basic" {
				r.user, r.pass = "bob", "b"
				r.expect(r.do("GET", "/v2/members/x/tags/list", nil), http.StatusOK, "")
				r.expect(r.do("POST", "/v2/public/x/blobs/uploads/", nil), http.StatusForbidden, "DENIED")
				return
			}
			// An anonymous token pulls public repositories only.
			req, _ := http.NewRequest("GET", r.srv.URL+"/token?scope=repository:public/x:pull&scope=repository:private/x:pull&scope=registry:catalog:*", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ Token string }
			json.Unmarshal(r.expect(resp, http.StatusOK, ""), &v)
			r.expect(r.do("GET", "/v2/public/x/tags/list", nil, "Authorization", "Bearer "+v.Token), http.StatusOK, "")
			r.expect(r.do("GET", "/v2/private/x/tags/list", nil, "Authorization", "Bearer "+v.Token), http.StatusUnauthorized, "UNAUTHORIZED")
			r.expect(r.do("GET", "/v2/_catalog", nil, "Authorization", "Bearer "+v.Token), http.StatusUnauthorized, "UNAUTHORIZED")
			// _catalog needs the catalog scope.
			pull := r.token("alice", "a", "repository:public/x:pull")
			resp = r.do("GET", "/v2/_catalog", nil, "Authorization", "Bearer "+pull)
			r.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `scope="registry:catalog:*"`) || !strings.Contains(got, "insufficient_scope") {
				t.Fatalf("catalog challenge %q", got)
			}
			cat := r.token("alice", "a", "registry:catalog:*")
			r.expect(r.do("GET", "/v2/_catalog", nil, "Authorization", "Bearer "+cat), http.StatusOK, "")
			// bob may not push to public/x: DENIED.
			bobs := r.token("bob", "b", "repository:public/x:pull,push")
			r.expect(r.do("POST", "/v2/public/x/blobs/uploads/", nil, "Authorization", "Bearer "+bobs), http.StatusForbidden, "DENIED")
		})
	}
}
