package server

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Htpasswd verifies users against an htpasswd file of bcrypt hashes
// (`htpasswd -B`). Successful verifications are remembered (keyed by an
// HMAC of user and password under a per-process random key) so that bcrypt
// runs once per credential, not once per request. Unknown users are checked
// against a dummy hash of the same cost, so they take as long as a wrong
// password.
//
// An Htpasswd loaded from a file re-reads it (at most every 2 seconds) when
// its modification time changes, so users can be added without a restart.
type Htpasswd struct {
	key [32]byte

	mu        sync.Mutex
	users     map[string][]byte
	dummy     []byte
	good      map[[32]byte]string
	file      string
	modTime   time.Time
	nextCheck time.Time
}

// LoadHtpasswd reads an htpasswd file. Only bcrypt entries ($2y$, $2a$,
// $2b$) are accepted; other lines are an error naming the line.
func LoadHtpasswd(file string) (*Htpasswd, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("reading htpasswd file: %w", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading htpasswd file: %w", err)
	}
	h, err := ParseHtpasswd(b, file)
	if err != nil {
		return nil, err
	}
	h.file, h.modTime = file, st.ModTime()
	return h, nil
}

// reload re-reads the file when it changed; a broken file keeps the old
// users. Called with mu held.
func (h *Htpasswd) reload() {
	if h.file == "" || time.Now().Before(h.nextCheck) {
		return
	}
	h.nextCheck = time.Now().Add(2 * time.Second)
	st, err := os.Stat(h.file)
	if err != nil || st.ModTime().Equal(h.modTime) {
		return
	}
	b, err := os.ReadFile(h.file)
	if err != nil {
		return
	}
	n, err := ParseHtpasswd(b, h.file)
	if err != nil {
		return
	}
	h.users, h.dummy, h.good, h.modTime = n.users, n.dummy, map[[32]byte]string{}, st.ModTime()
}

// maxBcryptCost is the highest bcrypt cost accepted (htpasswd's -C limit).
const maxBcryptCost = 17

// bcryptPrefix: hash is of a bcrypt version htpasswd -B ($2y$) or Go and
// other tools ($2a$, $2b$) write.
func bcryptPrefix(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// ParseHtpasswd parses htpasswd content (name is used in errors).
func ParseHtpasswd(b []byte, name string) (*Htpasswd, error) {
	h := &Htpasswd{users: map[string][]byte{}, good: map[[32]byte]string{}}
	cost := bcrypt.DefaultCost
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		user, hash, ok := strings.Cut(t, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s:%d: expected user:hash", name, line)
		}
		c, err := bcrypt.Cost([]byte(hash))
		if err == nil && !bcryptPrefix(hash) {
			// bcrypt.Cost reads any "$V$NN" (e.g. "$0$17..."): only the
			// bcrypt versions htpasswd and Go write are bcrypt hashes.
			err = fmt.Errorf("not a $2a$, $2b$ or $2y$ hash")
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: user %q: only bcrypt hashes are supported (htpasswd -B): %v", name, line, user, err)
		}
		if c > maxBcryptCost {
			// Every check of this user, and the dummy check of unknown
			// users, would take hours: refuse it as htpasswd -C does.
			return nil, fmt.Errorf("%s:%d: user %q: bcrypt cost %d is above %d (htpasswd -B -C 4..17)", name, line, user, c, maxBcryptCost)
		}
		if c > cost || len(h.users) == 0 {
			cost = c
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("hoist-dummy-password"), cost)
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	if _, err := rand.Read(h.key[:]); err != nil {
		return nil, err
	}
	return h, nil
}

// Verify reports whether password is user's.
func (h *Htpasswd) Verify(user, password string) bool {
	mac := hmac.New(sha256.New, h.key[:])
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var k [32]byte
	mac.Sum(k[:0])
	h.mu.Lock()
	h.reload()
	u, ok := h.good[k]
	hash, known := h.users[user]
	dummy, good := h.dummy, h.good
	h.mu.Unlock()
	if ok && u == user {
		return true
	}
	if !known {
		bcrypt.CompareHashAndPassword(dummy, []byte(password))
		return false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return false
	}
	h.mu.Lock()
	if len(good) > 10000 {
		clear(good)
	}
	good[k] = user
	h.mu.Unlock()
	return true
}

// AccessRule grants users read and/or write access to the repositories
// matching Repository (a path.Match pattern; "prefix/**" matches every
// repository under prefix). The first matching rule decides; a repository no
// rule matches is open to every authenticated user. "*" in a list means any
// authenticated user; "anonymous" in Read means everyone, without
// credentials too (public pulls with authenticated pushes).
type AccessRule struct {
	Repository string   `json:"repository"`
	Read       []string `json:"read,omitempty"`
	Write      []string `json:"write,omitempty"`
}

// Anonymous, in an AccessRule's Read list, opens the repositories to
// callers without credentials.
const Anonymous = "anonymous"

func (a AccessRule) matches(repo string) bool {
	if p, ok := strings.CutSuffix(a.Repository, "/**"); ok {
		return strings.HasPrefix(repo, p+"/")
	}
	ok, _ := path.Match(a.Repository, repo)
	return ok
}

// listed reports whether user ("" when anonymous) is in users; anon says
// whether Anonymous counts (read lists only).
func listed(users []string, user string, anon bool) bool {
	for _, u := range users {
		if anon && u == Anonymous {
			return true
		}
		if user != "" && (u == user || u == "*") {
			return true
		}
	}
	return false
}

// allowed reports whether user ("" for an anonymous caller) may read
// (write=false) or write repo.
func (s *Server) allowed(user, repo string, write bool) bool {
	if s.auth == nil {
		return true
	}
	for _, rule := range s.rules {
		if rule.matches(repo) {
			if write {
				return listed(rule.Write, user, false)
			}
			return listed(rule.Read, user, true) || listed(rule.Write, user, false)
		}
	}
	return user != ""
}

// anonymousReads reports whether some rule opens reads to anonymous callers.
func (s *Server) anonymousReads() bool {
	for _, rule := range s.rules {
		if listed(rule.Read, "", true) {
			return true
		}
	}
	return false
}

// anonymousRead reports whether req, carrying no credentials, may go on
// as an anonymous read (authorize then checks the repository).
func (s *Server) anonymousRead(r *http.Request, req *request) bool {
	return r.Header.Get("Authorization") == "" && anonymousRoute(r, req) && s.anonymousReads()
}

// anonymousRoute reports whether req is a read an anonymous caller may make
// (of a repository; the rules decide which).
func anonymousRoute(r *http.Request, req *request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch req.route {
	case routeTags, routeManifest, routeBlob, routeReferrers:
		return true
	}
	return false
}

// authenticate checks credentials when auth is on; on failure it answers 401
// with the Basic challenge and returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, req *request) bool {
	if s.auth == nil {
		return true
	}
	if s.token != nil {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			c, err := s.token.verify(strings.TrimSpace(tok))
			if err == nil && c.Subject == "" && !anonymousRoute(r, req) {
				// An anonymous token is good for repository reads only.
				s.challengeBearer(w, r, scopeFor(r, req), "")
				return false
			}
			if err == nil {
				req.user, req.claims = c.Subject, c
				return true
			}
			s.challengeBearer(w, r, scopeFor(r, req), "invalid_token")
			return false
		}
	}
	user, pass, ok := r.BasicAuth()
	if ok && s.auth.Verify(user, pass) {
		req.user = user
		return true
	}
	if s.anonymousRead(r, req) {
		return true
	}
	s.challenge(w, r, req, "")
	return false
}

// tokenAction is the token action a request on a repository needs.
func tokenAction(r *http.Request, req *request) string {
	switch {
	case req.route == routeStar:
		return "pull"
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return "pull"
	case r.Method == http.MethodDelete && req.route != routeUpload:
		return "delete"
	}
	return "push"
}

// scopeFor is the scope to ask for in a Bearer challenge.
func scopeFor(r *http.Request, req *request) string {
	if req.name == "" {
		if req.route == routeCatalog {
			return "registry:catalog:*"
		}
		return ""
	}
	switch a := tokenAction(r, req); a {
	case "push":
		return "repository:" + req.name + ":pull,push"
	default:
		return "repository:" + req.name + ":" + a
	}
}

// canRead reports whether the caller may read repo (access rules and, with
// a token, its granted scopes).
func (s *Server) canRead(req *request, repo string) bool {
	if !s.allowed(req.user, repo, false) {
		return false
	}
	return req.claims == nil || req.claims.allows("repository", repo, "pull")
}

// authorize checks the access rules for req's repository. A caller the
// rules refuse gets DENIED (403), also in token mode; an anonymous caller
// gets the authentication challenge instead, and so does a token that lacks
// a scope the rules would grant (insufficient_scope).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, req *request, write bool) bool {
	if !s.allowed(req.user, req.name, write) {
		if req.user == "" {
			s.challenge(w, r, req, "")
			return false
		}
		writeError(w, r, errDenied, nil)
		return false
	}
	if req.claims != nil {
		a := tokenAction(r, req)
		if !req.claims.allows("repository", req.name, a) && !(a == "delete" && req.claims.allows("repository", req.name, "push")) {
			s.challengeBearer(w, r, scopeFor(r, req), "insufficient_scope")
			return false
		}
	}
	return true
}

// challenge answers 401 with the Bearer (token mode) or Basic challenge.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request, req *request, errCode string) {
	if s.token != nil {
		s.challengeBearer(w, r, scopeFor(r, req), errCode)
		return
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", s.realm))
	writeError(w, r, errUnauthorized, nil)
}
