package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"
)

func htpasswdFor(t *testing.T, users ...string) *Htpasswd {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(users); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(users[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", users[i], h)
	}
	h, err := ParseHtpasswd([]byte(b.String()), "test")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAuthEveryEndpoint(t *testing.T) {
	r := newTestRegistry(t, WithHtpasswd(htpasswdFor(t, "alice", "wonder"), "test realm"))
	paths := []string{"/v2/", "/v2/_catalog", "/v2/a/tags/list", "/v2/a/manifests/latest",
		"/v2/a/blobs/sha256:" + strings.Repeat("0", 64), "/v2/a/referrers/sha256:" + strings.Repeat("0", 64),
		"/v1/search?q=a", "/metrics"}
	for _, p := range paths {
		resp := r.do("GET", p, nil)
		r.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")
		if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="test realm"` {
			t.Fatalf("%s: WWW-Authenticate %q", p, got)
		}
	}
	r.expect(r.do("POST", "/v2/a/blobs/uploads/", nil), http.StatusUnauthorized, "UNAUTHORIZED")
	r.user, r.pass = "alice", "wonder"
	r.expect(r.do("GET", "/v2/", nil), http.StatusOK, "")
	r.pushBlob("a", []byte("x"))
	r.expect(r.do("GET", "/v2/_catalog", nil), http.StatusOK, "")
	// Unknown user and wrong password.
	r.user, r.pass = "mallory", "wonder"
	r.expect(r.do("GET", "/v2/", nil), http.StatusUnauthorized, "UNAUTHORIZED")
	r.user, r.pass = "alice", "wrong"
	r.expect(r.do("GET", "/v2/", nil), http.StatusUnauthorized, "UNAUTHORIZED")
}

func TestManyWrongPasswordsNoLockout(t *testing.T) {
	r := newTestRegistry(t, WithHtpasswd(htpasswdFor(t, "alice", "wonder"), "r"))
	for i := range 1000 {
		r.user, r.pass = "alice", fmt.Sprintf("guess%d", i)
		resp := r.do("GET", "/v2/", nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	r.user, r.pass = "alice", "wonder"
	r.expect(r.do("GET", "/v2/", nil), http.StatusOK, "")
}

func TestHtpasswd(t *testing.T) {
	h8, _ := bcrypt.GenerateFromPassword([]byte("p"), 8)
	h, err := ParseHtpasswd([]byte("# comment\n\nbob:"+string(h8)+"\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	// Unknown users are compared against a dummy hash of the users' cost.
	if c, _ := bcrypt.Cost(h.dummy); c != 8 {
		t.Fatalf("dummy cost %d, want 8", c)
	}
	if !h.Verify("bob", "p") {
		t.Fatal("Verify refused bob's password")
	}
	if len(h.good) != 1 {
		t.Fatalf("%d verified passwords remembered, want 1", len(h.good))
	}
	// The second time the remembered verification answers; wrong passwords
	// and unknown users still fail.
	if !h.Verify("bob", "p") || h.Verify("bob", "q") || h.Verify("nobody", "p") {
		t.Fatal("Verify")
	}
	if _, err := ParseHtpasswd([]byte("bob:{SHA}abc\n"), "f"); err == nil || !strings.Contains(err.Error(), "f:1") {
		t.Fatalf("non-bcrypt accepted: %v", err)
	}
	if _, err := ParseHtpasswd([]byte("nocolon\n"), "f"); err == nil {
		t.Fatal("malformed line accepted")
	}
	// bcrypt.Cost reads any "$V$NN": a version that is no bcrypt's is
	// refused (the fuzzer's "$0$17..." made a cost-17 dummy, ~10 s).
	if _, err := ParseHtpasswd([]byte("0:$0$1700000000000000000000000000000000000000000000000000000\x80\x000"), "f"); err == nil || !strings.Contains(err.Error(), "only bcrypt hashes") {
		t.Fatalf("$0$ hash accepted: %v", err)
	}
	for _, v := range []string{"2a", "2b", "2y"} {
		hv := "$" + v + string(h8[3:])
		if _, err := ParseHtpasswd([]byte("bob:"+hv+"\n"), "f"); err != nil {
			t.Errorf("$%s$ refused: %v", v, err)
		}
	}
}

func TestAccessRules(t *testing.T) {
	r := newTestRegistry(t,
		WithHtpasswd(htpasswdFor(t, "alice", "a", "bob", "b"), "r"),
		WithAccessRules([]AccessRule{
			{Repository: "private/**", Read: []string{"alice"}, Write: []string{"alice"}},
			{Repository: "shared", Read: []string{"*"}, Write: []string{"alice"}},
		}))
	r.user, r.pass = "alice", "a"
	secret := r.pushBlob("private/x", []byte("secret"))
	r.pushBlob("shared", []byte("shared"))
	r.pushBlob("open", []byte("open"))

	r.user, r.pass = "bob", "b"
	r.expect(r.do("GET", "/v2/private/x/blobs/"+secret.String(), nil), http.StatusForbidden, "DENIED")
	// Denied whether or not the thing exists: no existence leak.
	r.expect(r.do("GET", "/v2/private/x/blobs/sha256:"+strings.Repeat("1", 64), nil), http.StatusForbidden, "DENIED")
	r.expect(r.do("GET", "/v2/private/nothing/tags/list", nil), http.StatusForbidden, "DENIED")
	r.expect(r.do("GET", "/v2/shared/tags/list", nil), http.StatusOK, "")
	r.expect(r.do("POST", "/v2/shared/blobs/uploads/", nil), http.StatusForbidden, "DENIED")
	r.expect(r.do("POST", "/v2/open/blobs/uploads/", nil), http.StatusAccepted, "")
	// Mount from a repository bob cannot read: an upload session (202),
	// exactly as for a blob that does not exist.
	resp := r.do("POST", "/v2/open/blobs/uploads/?mount="+secret.String()+"&from=private/x", nil)
	r.expect(resp, http.StatusAccepted, "")
	if resp.Header.Get("Location") == "" {
		t.Fatal("fallback upload has no Location")
	}
	// Anonymous mount does not reach into private/x either.
	r.expect(r.do("POST", "/v2/open/blobs/uploads/?mount="+secret.String(), nil), http.StatusAccepted, "")
	r.expect(r.do("HEAD", "/v2/open/blobs/"+secret.String(), nil), http.StatusNotFound, "")
	shared := r.pushBlobAs("alice", "a", "shared", []byte("shared blob"))
	r.expect(r.do("POST", "/v2/open/blobs/uploads/?mount="+shared.String(), nil), http.StatusCreated, "")
	// The catalog hides what bob cannot read.
	b := r.expect(r.do("GET", "/v2/_catalog", nil), http.StatusOK, "")
	var cat struct{ Repositories []string }
	json.Unmarshal(b, &cat)
	if strings.Join(cat.Repositories, ",") != "open,shared" {
		t.Fatalf("bob's catalog: %v", cat.Repositories)
	}
	// Alice can mount it.
	r.user, r.pass = "alice", "a"
	r.expect(r.do("POST", "/v2/open/blobs/uploads/?mount="+secret.String()+"&from=private/x", nil), http.StatusCreated, "")
}

func TestSearchAndStars(t *testing.T) {
	r := newTestRegistry(t, WithHtpasswd(htpasswdFor(t, "alice", "a", "bob", "b"), "r"))
	r.user, r.pass = "alice", "a"
	for _, repo := range []struct{ name, desc string }{
		{"library/busybox", "The Swiss army knife of embedded Linux"},
		{"team/tool", "A busy little tool"},
		{"team/other", "Nothing to see"},
	} {
		im := r.image(repo.name, repo.desc, true)
		r.expect(r.putManifest(repo.name, "latest", ociManifest, im.manifest), http.StatusCreated, "")
	}
	search := func(q string) searchResponse {
		b := r.expect(r.do("GET", "/v1/search?"+q, nil), http.StatusOK, "")
		var sr searchResponse
		if err := json.Unmarshal(b, &sr); err != nil {
			t.Fatal(err)
		}
		return sr
	}
	sr := search("q=busy")
	if sr.NumResults != 2 || sr.Query != "busy" || sr.Page != 1 || sr.PageSize != 25 || sr.NumPages != 1 {
		t.Fatalf("search: %+v", sr)
	}
	if sr.Results[0].Name != "library/busybox" || !sr.Results[0].IsOfficial || sr.Results[0].Description != "The Swiss army knife of embedded Linux" {
		t.Fatalf("first result: %+v", sr.Results[0])
	}
	if sr.Results[1].Name != "team/tool" || sr.Results[1].IsOfficial {
		t.Fatalf("second result: %+v", sr.Results[1])
	}
	// By description word, by tag, and pagination.
	if sr := search("q=swiss+army"); sr.NumResults != 1 {
		t.Fatalf("description search: %+v", sr)
	}
	im := r.image("team/other", "Nothing to see", false)
	r.expect(r.putManifest("team/other", "nightly-2026", ociManifest, im.manifest), http.StatusCreated, "")
	if sr := search("q=nightly"); sr.NumResults != 1 || sr.Results[0].Name != "team/other" {
		t.Fatalf("tag search: %+v", sr)
	}
	sr = search("q=team&n=1&page=2")
	if sr.NumResults != 2 || sr.NumPages != 2 || len(sr.Results) != 1 || sr.Results[0].Name != "team/tool" {
		t.Fatalf("page 2: %+v", sr)
	}
	// Stars reorder results; one per user.
	for _, u := range []string{"alice", "bob"} {
		r.user, r.pass = u, u[:1]
		r.expect(r.do("PUT", "/v1/repositories/team/tool/star", nil), http.StatusNoContent, "")
		r.expect(r.do("PUT", "/v1/repositories/team/tool/star", nil), http.StatusNoContent, "")
	}
	sr = search("q=busy")
	if sr.Results[0].Name != "team/tool" || sr.Results[0].StarCount != 2 {
		t.Fatalf("after stars: %+v", sr.Results)
	}
	r.expect(r.do("DELETE", "/v1/repositories/team/tool/star", nil), http.StatusNoContent, "")
	if sr := search("q=busy"); sr.Results[0].StarCount != 1 && sr.Results[1].StarCount != 1 {
		t.Fatalf("after unstar: %+v", sr.Results)
	}
	r.expect(r.do("PUT", "/v1/repositories/team/none/star", nil), http.StatusNotFound, "NAME_UNKNOWN")
	r.user = ""
	r.expect(r.do("PUT", "/v1/repositories/team/tool/star", nil), http.StatusUnauthorized, "UNAUTHORIZED")
}

// pushBlobAs pushes as another user and restores the current one.
func (r *testRegistry) pushBlobAs(user, pass, repo string, data []byte) digest.Digest {
	u, p := r.user, r.pass
	r.user, r.pass = user, pass
	defer func() { r.user, r.pass = u, p }()
	return r.pushBlob(repo, data)
}

func TestHtpasswdReload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "htpasswd")
	hash := func(p string) string {
		b, _ := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		return string(b)
	}
	os.WriteFile(file, []byte("alice:"+hash("a")+"\n"), 0o600)
	h, err := LoadHtpasswd(file)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify("alice", "a") || h.Verify("carol", "c") {
		t.Fatal("initial users")
	}
	os.WriteFile(file, []byte("carol:"+hash("c")+"\n"), 0o600)
	future := time.Now().Add(time.Minute)
	os.Chtimes(file, future, future)
	h.mu.Lock()
	h.nextCheck = time.Time{}
	h.mu.Unlock()
	if !h.Verify("carol", "c") || h.Verify("alice", "a") {
		t.Fatal("htpasswd change not picked up (or the old, cached password still works)")
	}
	// A broken file keeps the users loaded last.
	os.WriteFile(file, []byte("garbage\n"), 0o600)
	os.Chtimes(file, future.Add(time.Minute), future.Add(time.Minute))
	h.mu.Lock()
	h.nextCheck = time.Time{}
	h.mu.Unlock()
	if !h.Verify("carol", "c") {
		t.Fatal("broken htpasswd file dropped the users")
	}
}
