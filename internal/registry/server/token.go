package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// TokenAuth is the Docker token flow served by the registry itself: clients
// are challenged with `Bearer realm=".../token",service=...,scope=...`,
// trade their htpasswd credentials at /token for a short-lived token granting
// the scopes the access rules allow, and present it as `Bearer <token>`.
// Tokens are JWTs signed with HMAC-SHA256 under a key only the registry
// knows (clients treat them as opaque).
type TokenAuth struct {
	key     []byte
	service string
	ttl     time.Duration
}

// NewTokenAuth returns token auth signing with key.
func NewTokenAuth(key []byte, service string, ttl time.Duration) (*TokenAuth, error) {
	if len(key) < 32 {
		return nil, errors.New("token signing key must be at least 32 bytes")
	}
	if service == "" {
		service = "hoist-registry"
	}
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	return &TokenAuth{key: key, service: service, ttl: ttl}, nil
}

// LoadOrCreateTokenKey reads the signing key from file, creating a random
// one (mode 0600) when the file does not exist.
func LoadOrCreateTokenKey(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("token key %s: need at least 32 bytes, found %d", file, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading token key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, key, 0o600); err != nil {
		return nil, fmt.Errorf("writing token key: %w", err)
	}
	return key, nil
}

// WithTokenAuth turns on the token flow (needs WithHtpasswd for /token).
func WithTokenAuth(t *TokenAuth) Option { return func(s *Server) { s.token = t } }

type tokenAccess struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type tokenClaims struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	Audience  string        `json:"aud"`
	Expires   int64         `json:"exp"`
	NotBefore int64         `json:"nbf"`
	IssuedAt  int64         `json:"iat"`
	Access    []tokenAccess `json:"access"`
}

var b64 = base64.RawURLEncoding

const tokenHeader = `{"alg":"HS256","typ":"JWT"}`

func (t *TokenAuth) sign(c tokenClaims) string {
	body, _ := json.Marshal(c)
	msg := b64.EncodeToString([]byte(tokenHeader)) + "." + b64.EncodeToString(body)
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(msg))
	return msg + "." + b64.EncodeToString(mac.Sum(nil))
}

func (t *TokenAuth) verify(tok string) (*tokenClaims, error) {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return nil, errors.New("malformed token")
	}
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		return nil, errors.New("malformed token signature")
	}
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(tok[:i]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errors.New("bad token signature")
	}
	parts := strings.Split(tok[:i], ".")
	if len(parts) != 2 {
		return nil, errors.New("malformed token")
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("malformed token claims")
	}
	var c tokenClaims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, errors.New("malformed token claims")
	}
	now := time.Now().Unix()
	if now >= c.Expires || now < c.NotBefore-60 || c.Audience != t.service {
		return nil, errors.New("token expired or not for this registry")
	}
	return &c, nil
}

func (c *tokenClaims) allows(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Type == typ && a.Name == name {
			for _, x := range a.Actions {
				if x == action || x == "*" {
					return true
				}
			}
		}
	}
	return false
}

// WithTokenRealm sets the realm URL sent in Bearer challenges (where
// clients fetch tokens), e.g. "https://registry.example.com/token".
func WithTokenRealm(url string) Option { return func(s *Server) { s.tokenRealm = url } }

// WithTokenRealmHost names the host of the default realm (the port stays
// the one the connection arrived on); Serve passes the TLS certificate's
// first DNS name.
func WithTokenRealmHost(host string) Option { return func(s *Server) { s.realmHost = host } }

// realmURL is the token endpoint clients are sent to. It never comes from
// the request's Host header (a client could make the registry advertise
// any URL): it is the configured token realm; without one it is
// <scheme>://<host>:<port>/token where port is the local port the
// connection was accepted on and host is the WithTokenRealmHost name, else
// the local address the connection was accepted on.
func (s *Server) realmURL(r *http.Request) string {
	if s.tokenRealm != "" {
		return s.tokenRealm
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := "localhost"
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		host = a.String()
	}
	if s.realmHost != "" {
		if _, port, err := net.SplitHostPort(host); err == nil {
			host = net.JoinHostPort(s.realmHost, port)
		}
	}
	return scheme + "://" + host + "/token"
}

// CheckTokenRealm validates a configured token realm: an absolute http(s) URL.
func CheckTokenRealm(realm string) error {
	u, err := url.Parse(realm)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("token realm %q: want an absolute http(s) URL such as https://registry.example.com/token", realm)
	}
	return nil
}

// challengeBearer answers 401 with a Bearer challenge for scope ("" for none).
func (s *Server) challengeBearer(w http.ResponseWriter, r *http.Request, scope, errCode string) {
	v := fmt.Sprintf("Bearer realm=%q,service=%q", s.realmURL(r), s.token.service)
	if scope != "" {
		v += fmt.Sprintf(",scope=%q", scope)
	}
	if errCode != "" {
		v += fmt.Sprintf(",error=%q", errCode)
	}
	w.Header().Set("WWW-Authenticate", v)
	writeError(w, r, errUnauthorized, nil)
}

// serveToken is GET /token: basic credentials in, a token for the allowed
// part of the requested scopes out.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, req *request) {
	if s.token == nil || s.auth == nil {
		writeError(w, r, errNotFound, "token authentication is not enabled")
		return
	}
	// No credentials at all: an anonymous token (pull of the repositories
	// the rules open to Anonymous), as registries give docker for public
	// images.
	user, pass, ok := r.BasicAuth()
	if ok && !s.auth.Verify(user, pass) || !ok && r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", s.realm))
		writeError(w, r, errUnauthorized, nil)
		return
	}
	req.user = user
	q := r.URL.Query()
	if svc := q.Get("service"); svc != "" && svc != s.token.service {
		writeError(w, r, errDenied, "unknown service "+svc)
		return
	}
	var access []tokenAccess
	for _, sc := range q["scope"] {
		for _, one := range strings.Fields(sc) {
			parts := strings.Split(one, ":")
			if len(parts) < 3 {
				continue
			}
			typ, name, actions := parts[0], strings.Join(parts[1:len(parts)-1], ":"), strings.Split(parts[len(parts)-1], ",")
			granted := []string{}
			for _, a := range actions {
				switch {
				case typ == "registry" && name == "catalog" && a == "*" && user != "":
					granted = append(granted, a)
				case typ == "repository" && a == "pull" && s.allowed(user, name, false):
					granted = append(granted, a)
				case typ == "repository" && (a == "push" || a == "delete") && s.allowed(user, name, true):
					granted = append(granted, a)
				}
			}
			access = append(access, tokenAccess{Type: typ, Name: name, Actions: granted})
		}
	}
	now := time.Now()
	tok := s.token.sign(tokenClaims{
		Issuer: s.token.service, Subject: user, Audience: s.token.service,
		Expires: now.Add(s.token.ttl).Unix(), NotBefore: now.Unix(), IssuedAt: now.Unix(), Access: access,
	})
	writeJSON(w, r, "application/json", map[string]any{
		"token": tok, "access_token": tok, "expires_in": int(s.token.ttl.Seconds()), "issued_at": now.UTC().Format(time.RFC3339),
	})
}
