package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Credentials are what the user gave for one registry.
type Credentials struct {
	Username string
	Password string
	// IdentityToken is an OAuth2 refresh token: exchanged at the realm with a
	// POST form (grant_type=refresh_token).
	IdentityToken string
	// RegistryToken is a bearer token sent as-is.
	RegistryToken string
}

func (c Credentials) hasBasic() bool { return c.Username != "" || c.Password != "" }

// CredentialFunc returns the credentials for a registry host; no
// credentials is the zero value (anonymous), not an error.
type CredentialFunc func(ctx context.Context, host string) (Credentials, error)

// Options tune an Authorizer.
type Options struct {
	// ClientID is sent to token servers ("hoist" when empty).
	ClientID string
	// Now is the clock for token expiry (time.Now when nil).
	Now func() time.Time
}

// Token is an access token from a token server.
type Token struct {
	Token        string
	RefreshToken string
	Expires      time.Time
}

// Authorizer authorizes the requests to one registry host. It is safe for
// concurrent use; concurrent requests for the same scopes share one token
// fetch.
type Authorizer struct {
	host   string
	client *http.Client
	creds  CredentialFunc
	opts   Options

	mu        sync.Mutex
	challenge *Challenge
	tokens    map[string]*tokenEntry
}

type tokenEntry struct {
	mu  sync.Mutex
	tok Token
}

// New returns an Authorizer for host; client fetches tokens (it should be the
// same transport the registry uses, with redirects that never forward
// credentials to another host).
func New(host string, client *http.Client, creds CredentialFunc, opts Options) *Authorizer {
	if opts.ClientID == "" {
		opts.ClientID = "hoist"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if creds == nil {
		creds = func(context.Context, string) (Credentials, error) { return Credentials{}, nil }
	}
	return &Authorizer{host: host, client: client, creds: creds, opts: opts, tokens: map[string]*tokenEntry{}}
}

// Challenge is the challenge in use, nil before any 401.
func (a *Authorizer) Challenge() *Challenge {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.challenge
}

// pick chooses the challenge to answer: Bearer before Basic.
func pick(chs []Challenge) *Challenge {
	var basic *Challenge
	for i := range chs {
		switch chs[i].Scheme {
		case "bearer":
			if chs[i].Params["realm"] != "" {
				return &chs[i]
			}
		case "basic":
			if basic == nil {
				basic = &chs[i]
			}
		}
	}
	return basic
}

// HandleUnauthorized records the challenge of a 401 response that answered
// a request made with scopes. It drops the token that was refused and
// returns the scopes to retry with (widened by the challenge's scope
// parameter) and whether a retry can help.
func (a *Authorizer) HandleUnauthorized(resp *http.Response, scopes []Scope) ([]Scope, bool) {
	ch := pick(ParseChallenges(resp.Header))
	if ch == nil {
		return scopes, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.challenge
	a.challenge = ch
	if ch.Scheme == "bearer" {
		delete(a.tokens, a.key(ch, scopes))
		scopes = MergeScopes(scopes, ParseScopes(ch.Params["scope"]))
		delete(a.tokens, a.key(ch, scopes))
	}
	if prev == nil || prev.Scheme != ch.Scheme {
		return scopes, true
	}
	// Same scheme as before: a retry helps only with a fresh token.
	return scopes, ch.Scheme == "bearer"
}

// SetChallenge records a challenge seen elsewhere (e.g. by a ping).
func (a *Authorizer) SetChallenge(resp *http.Response) bool {
	ch := pick(ParseChallenges(resp.Header))
	if ch == nil {
		return false
	}
	a.mu.Lock()
	a.challenge = ch
	a.mu.Unlock()
	return true
}

func (a *Authorizer) key(ch *Challenge, scopes []Scope) string {
	parts := []string{ch.Params["realm"], ch.Params["service"]}
	for _, s := range MergeScopes(scopes) {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, "|")
}

// Authorize sets req's Authorization header for scopes, fetching (or reusing)
// a token when the registry asked for Bearer. With no challenge yet it does
// nothing (the request goes anonymously and a 401 tells what to do).
func (a *Authorizer) Authorize(ctx context.Context, req *http.Request, scopes []Scope) error {
	a.mu.Lock()
	ch := a.challenge
	a.mu.Unlock()
	if ch == nil {
		return nil
	}
	creds, err := a.creds(ctx, a.host)
	if err != nil {
		return err
	}
	switch ch.Scheme {
	case "basic":
		if creds.hasBasic() {
			req.SetBasicAuth(creds.Username, creds.Password)
		}
	case "bearer":
		if creds.RegistryToken != "" {
			req.Header.Set("Authorization", "Bearer "+creds.RegistryToken)
			return nil
		}
		tok, err := a.token(ctx, ch, creds, scopes)
		if err != nil {
			return err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	return nil
}

func (a *Authorizer) token(ctx context.Context, ch *Challenge, creds Credentials, scopes []Scope) (string, error) {
	key := a.key(ch, scopes)
	a.mu.Lock()
	e := a.tokens[key]
	if e == nil {
		e = &tokenEntry{}
		a.tokens[key] = e
	}
	a.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tok.Token != "" && a.opts.Now().Before(e.tok.Expires) {
		return e.tok.Token, nil
	}
	tok, err := a.FetchToken(ctx, ch, creds, scopes, false)
	if err != nil {
		return "", err
	}
	e.tok = tok
	return tok.Token, nil
}

type tokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

// minTokenLife is the life assumed for tokens that state a shorter one (or
// none), as docker does.
const minTokenLife = 60 * time.Second

// FetchToken gets a token for scopes from the challenge's realm: an OAuth2
// refresh-token POST when creds hold an identity token, else a GET with
// basic credentials (or anonymous). offline asks for a refresh token (login).
func (a *Authorizer) FetchToken(ctx context.Context, ch *Challenge, creds Credentials, scopes []Scope, offline bool) (Token, error) {
	realm, err := url.Parse(ch.Params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") || realm.Host == "" {
		return Token{}, fmt.Errorf("registry %s: invalid token realm %q in its authentication challenge", a.host, ch.Params["realm"])
	}
	var scopeStrs []string
	for _, s := range MergeScopes(scopes) {
		scopeStrs = append(scopeStrs, s.String())
	}
	service := ch.Params["service"]
	var req *http.Request
	if creds.IdentityToken != "" {
		form := url.Values{}
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", creds.IdentityToken)
		form.Set("service", service)
		form.Set("client_id", a.opts.ClientID)
		if len(scopeStrs) > 0 {
			form.Set("scope", strings.Join(scopeStrs, " "))
		}
		if offline {
			form.Set("access_type", "offline")
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, realm.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return Token{}, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		q := realm.Query()
		if service != "" {
			q.Set("service", service)
		}
		for _, s := range scopeStrs {
			q.Add("scope", s)
		}
		if creds.Username != "" {
			q.Set("account", creds.Username)
		}
		if offline {
			q.Set("offline_token", "true")
			q.Set("client_id", a.opts.ClientID)
		}
		realm.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
		if err != nil {
			return Token{}, err
		}
		if creds.hasBasic() {
			req.SetBasicAuth(creds.Username, creds.Password)
		}
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("fetching token from %s: %w", realm.Host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return Token{}, tokenError(resp.StatusCode, body, realm.Host)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return Token{}, fmt.Errorf("token server %s: invalid answer: %v", realm.Host, err)
	}
	tok := Token{Token: tr.Token, RefreshToken: tr.RefreshToken}
	if tok.Token == "" {
		tok.Token = tr.AccessToken
	}
	if tok.Token == "" {
		return Token{}, fmt.Errorf("token server %s: answer holds no token", realm.Host)
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life < minTokenLife {
		life = minTokenLife
	}
	tok.Expires = a.opts.Now().Add(life - life/10) // renew a little early
	return tok, nil
}

// tokenError renders a token server's refusal like docker:
// "unauthorized: incorrect username or password".
func tokenError(status int, body []byte, host string) error {
	var v struct {
		Details string `json:"details"`
		Error   string `json:"error"`
		Desc    string `json:"error_description"`
		Errors  []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	msg := ""
	if json.Unmarshal(body, &v) == nil {
		switch {
		case len(v.Errors) > 0:
			msg = v.Errors[0].Message
			if msg == "" {
				msg = strings.ToLower(v.Errors[0].Code)
			}
		case v.Details != "":
			msg = v.Details
		case v.Desc != "":
			msg = v.Desc
		case v.Error != "":
			msg = v.Error
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 || msg == "" {
			msg = http.StatusText(status)
		}
	}
	switch status {
	case http.StatusUnauthorized:
		return errdefs.Unauthorizedf("unauthorized: %s", msg)
	case http.StatusForbidden:
		return errdefs.Forbiddenf("denied: %s", msg)
	}
	if status >= 500 {
		return errdefs.Unavailablef("token server %s: %d %s", host, status, msg)
	}
	return fmt.Errorf("token server %s: %d %s", host, status, msg)
}
