package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func TestParseChallenges(t *testing.T) {
	h := http.Header{}
	h.Add("WWW-Authenticate", `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"`)
	h.Add("WWW-Authenticate", `Basic realm="Registry Realm", Bearer realm=x`)
	chs := ParseChallenges(h)
	if len(chs) != 3 {
		t.Fatalf("got %d challenges: %+v", len(chs), chs)
	}
	b := chs[0]
	if b.Scheme != "bearer" || b.Params["realm"] != "https://auth.example/token" || b.Params["service"] != "registry.example" || b.Params["error"] != "insufficient_scope" {
		t.Fatalf("bearer = %+v", b)
	}
	sc := ParseScopes(b.Params["scope"])
	if len(sc) != 2 || sc[0].String() != "repository:a/b:pull,push" || sc[1].Name != "c" {
		t.Fatalf("scopes = %+v", sc)
	}
	if chs[1].Scheme != "basic" || chs[1].Params["realm"] != "Registry Realm" || chs[2].Params["realm"] != "x" {
		t.Fatalf("second header = %+v", chs[1:])
	}
	if got := parseChallengeHeader(`Bearer realm="a\"b"`); got[0].Params["realm"] != `a"b` {
		t.Fatalf("escaped quote: %+v", got)
	}
}

func TestMergeScopes(t *testing.T) {
	m := MergeScopes([]Scope{RepositoryScope("x", "push"), RepositoryScope("a", "pull")}, []Scope{RepositoryScope("x", "pull")})
	if len(m) != 2 || m[0].String() != "repository:a:pull" || m[1].String() != "repository:x:pull,push" {
		t.Fatalf("merged = %v", m)
	}
	if s, ok := ParseScope("repository:host:5000/x:pull"); !ok || s.Name != "host:5000/x" {
		t.Fatalf("ParseScope with colon: %+v", s)
	}
}

type tokenServer struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []*http.Request
	forms  []string
	expire int
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{expire: 300}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		ts.mu.Lock()
		ts.calls = append(ts.calls, r)
		ts.forms = append(ts.forms, r.Form.Encode())
		exp := ts.expire
		ts.mu.Unlock()
		if r.Method == http.MethodPost {
			if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "REFRESH" {
				w.WriteHeader(401)
				w.Write([]byte(`{"error":"invalid_grant","error_description":"bad refresh token"}`))
				return
			}
			w.Write([]byte(`{"access_token":"oauth-` + strings.Join(r.PostForm["scope"], "+") + `","expires_in":300}`))
			return
		}
		u, p, ok := r.BasicAuth()
		if ok && (u != "alice" || p != "pw") {
			w.WriteHeader(401)
			w.Write([]byte(`{"details":"incorrect username or password"}`))
			return
		}
		who := "anon"
		if ok {
			who = u
		}
		w.Write([]byte(`{"token":"` + who + `:` + strings.Join(r.URL.Query()["scope"], "+") + `","expires_in":` + itoa(exp) + `}`))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func itoa(i int) string { return strconv.Itoa(i) }

func unauthorized(realm string, scope string) *http.Response {
	h := http.Header{}
	v := `Bearer realm="` + realm + `",service="reg"`
	if scope != "" {
		v += `,scope="` + scope + `"`
	}
	h.Set("WWW-Authenticate", v)
	return &http.Response{StatusCode: 401, Header: h}
}

func TestBearerTokenCachePerScopeAndExpiry(t *testing.T) {
	ts := newTokenServer(t)
	now := time.Unix(1000, 0)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	creds := func(context.Context, string) (Credentials, error) {
		return Credentials{Username: "alice", Password: "pw"}, nil
	}
	a := New("reg:5000", ts.Client(), creds, Options{Now: clock})
	ctx := context.Background()
	pull := []Scope{RepositoryScope("lib/x", "pull")}
	authz := func(scopes []Scope) string {
		req, _ := http.NewRequest("GET", "http://reg:5000/v2/", nil)
		if err := a.Authorize(ctx, req, scopes); err != nil {
			t.Fatal(err)
		}
		return req.Header.Get("Authorization")
	}
	if got := authz(pull); got != "" {
		t.Fatalf("authorized before any challenge: %q", got)
	}
	if _, retry := a.HandleUnauthorized(unauthorized(ts.URL+"/token", ""), pull); !retry {
		t.Fatal("first challenge should allow a retry")
	}
	if got := authz(pull); got != "Bearer alice:repository:lib/x:pull" {
		t.Fatalf("pull token = %q", got)
	}
	authz(pull)
	if len(ts.calls) != 1 {
		t.Fatalf("token fetched %d times, want 1 (cached)", len(ts.calls))
	}
	// scope upgrade for push: a new token with both actions
	push := []Scope{RepositoryScope("lib/x", "pull", "push")}
	if got := authz(push); got != "Bearer alice:repository:lib/x:pull,push" {
		t.Fatalf("push token = %q", got)
	}
	// cross-repository mount: pull on the source too
	mount := append(push, RepositoryScope("lib/src", "pull"))
	if got := authz(mount); got != "Bearer alice:repository:lib/src:pull+repository:lib/x:pull,push" {
		t.Fatalf("mount token = %q", got)
	}
	if len(ts.calls) != 3 {
		t.Fatalf("calls = %d, want 3", len(ts.calls))
	}
	q := ts.calls[0].URL.Query()
	if q.Get("service") != "reg" || q.Get("account") != "alice" {
		t.Fatalf("token query = %v", q)
	}
	// expiry: after the token's life a new one is fetched
	clockMu.Lock()
	now = now.Add(301 * time.Second)
	clockMu.Unlock()
	authz(pull)
	if len(ts.calls) != 4 {
		t.Fatalf("expired token reused (calls=%d)", len(ts.calls))
	}
	// a 401 with insufficient_scope widens the scopes and drops the token
	scopes, retry := a.HandleUnauthorized(unauthorized(ts.URL+"/token", "repository:lib/y:pull"), pull)
	if !retry || len(scopes) != 2 {
		t.Fatalf("widened scopes = %v, %v", scopes, retry)
	}
	if got := authz(scopes); got != "Bearer alice:repository:lib/x:pull+repository:lib/y:pull" {
		t.Fatalf("widened token = %q", got)
	}
	authz(pull)
	if len(ts.calls) != 6 {
		t.Fatalf("refused token reused (calls=%d)", len(ts.calls))
	}
}

func TestConcurrentRequestsShareOneFetch(t *testing.T) {
	ts := newTokenServer(t)
	a := New("reg", ts.Client(), nil, Options{})
	a.HandleUnauthorized(unauthorized(ts.URL+"/token", ""), nil)
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", "http://reg/v2/", nil)
			if a.Authorize(context.Background(), req, []Scope{RepositoryScope("r", "pull")}) != nil || req.Header.Get("Authorization") != "Bearer anon:repository:r:pull" {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 || len(ts.calls) != 1 {
		t.Fatalf("bad=%d calls=%d", bad.Load(), len(ts.calls))
	}
	if _, _, ok := ts.calls[0].BasicAuth(); ok {
		t.Fatal("anonymous token request carried credentials")
	}
}

func TestWrongPasswordAndRefreshToken(t *testing.T) {
	ts := newTokenServer(t)
	ch := &Challenge{Scheme: "bearer", Params: map[string]string{"realm": ts.URL + "/token", "service": "reg"}}
	a := New("reg", ts.Client(), nil, Options{})
	_, err := a.FetchToken(context.Background(), ch, Credentials{Username: "alice", Password: "nope"}, nil, false)
	if !errors.Is(err, errdefs.ErrUnauthorized) || err.Error() != "unauthorized: incorrect username or password" {
		t.Fatalf("wrong password: %v", err)
	}
	tok, err := a.FetchToken(context.Background(), ch, Credentials{IdentityToken: "REFRESH"}, []Scope{RepositoryScope("r", "pull")}, false)
	if err != nil || tok.Token != "oauth-repository:r:pull" {
		t.Fatalf("refresh flow: %+v %v", tok, err)
	}
	if ts.calls[1].Method != http.MethodPost || !strings.Contains(ts.forms[1], "client_id=hoist") {
		t.Fatalf("refresh request: %s %s", ts.calls[1].Method, ts.forms[1])
	}
	_, err = a.FetchToken(context.Background(), ch, Credentials{IdentityToken: "stale"}, nil, false)
	if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "bad refresh token") {
		t.Fatalf("bad refresh: %v", err)
	}
	bad := &Challenge{Scheme: "bearer", Params: map[string]string{"realm": "ftp://x"}}
	if _, err := a.FetchToken(context.Background(), bad, Credentials{}, nil, false); err == nil || !strings.Contains(err.Error(), "invalid token realm") {
		t.Fatalf("bad realm: %v", err)
	}
}

func TestBasicAndRegistryToken(t *testing.T) {
	var creds Credentials
	a := New("reg", http.DefaultClient, func(context.Context, string) (Credentials, error) { return creds, nil }, Options{})
	h := http.Header{}
	h.Set("WWW-Authenticate", `Basic realm="Registry"`)
	a.HandleUnauthorized(&http.Response{StatusCode: 401, Header: h}, nil)
	req, _ := http.NewRequest("GET", "http://reg/v2/", nil)
	a.Authorize(context.Background(), req, nil)
	if req.Header.Get("Authorization") != "" {
		t.Fatal("basic without credentials sent a header")
	}
	creds = Credentials{Username: "u", Password: "p"}
	a.Authorize(context.Background(), req, nil)
	if u, p, ok := req.BasicAuth(); !ok || u != "u" || p != "p" {
		t.Fatal("basic credentials not sent")
	}
	if _, retry := a.HandleUnauthorized(&http.Response{StatusCode: 401, Header: h}, nil); retry {
		t.Fatal("retrying refused basic credentials is pointless")
	}
	creds = Credentials{RegistryToken: "RT"}
	a.HandleUnauthorized(unauthorized("https://auth/token", ""), nil)
	req, _ = http.NewRequest("GET", "http://reg/v2/", nil)
	a.Authorize(context.Background(), req, nil)
	if req.Header.Get("Authorization") != "Bearer RT" {
		t.Fatalf("registry token: %q", req.Header.Get("Authorization"))
	}
}
