package engine

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/credentials"
	"github.com/hoistproject/hoist/internal/registry/client/distribution"
)

// The registry values the front-ends pass in and get back.
type (
	ProgressFunc  = client.ProgressFunc
	ProgressEvent = client.Event
	PullResult    = distribution.PullResult
	PushedTag     = distribution.PushedTag
	SearchResult  = client.SearchResult
	// AuthConfig is a registry login as docker's config.json stores it.
	AuthConfig = credentials.AuthConfig
)

// The transfer states of ProgressEvent.Status that front-ends tell apart.
const (
	StatusDownloading   = client.StatusDownloading
	StatusPushing       = client.StatusPushing
	StatusAlreadyExists = client.StatusAlreadyExists
)

// IndexServer is Docker Hub's login address, docker's default.
const IndexServer = credentials.IndexServer

// ParsePlatform reads os[/arch[/variant]].
func ParsePlatform(s string) (v1.Platform, error) { return client.ParsePlatform(s) }

// RegistryError is a failure a registry answered (or a bad search
// filter): docker's daemon reports it.
type RegistryError struct{ Err error }

func (r *RegistryError) Error() string { return r.Err.Error() }
func (r *RegistryError) Unwrap() error { return r.Err }

// Search is search on the registry of term ([REGISTRY/]TERM; Docker Hub
// when none), at most limit results that pass filters; auth, when set, is
// the login to use instead of the stored ones (the Engine API's
// X-Registry-Auth).
func (e *Engine) Search(ctx context.Context, term string, limit int, filters []string, auth *AuthConfig) ([]SearchResult, error) {
	flt, err := client.ParseSearchFilters(filters)
	if err != nil {
		return nil, &RegistryError{err}
	}
	c, _, err := e.registry(auth)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	results, err := c.Search(ctx, term, limit, flt)
	if err != nil {
		return nil, &RegistryError{err}
	}
	return results, nil
}

// LoginOptions are login's.
type LoginOptions struct {
	// Server is the registry ("" for Docker Hub).
	Server string
	// Username and Password are the credentials given; when both are ""
	// the stored ones are tried first.
	Username, Password string
	// Prompt asks for what is missing of ac (the username defaulting to
	// def); nil when nobody can be asked.
	Prompt func(ac *AuthConfig, def string) error
	// Status receives docker's "Authenticating with existing
	// credentials..." line; nil discards it.
	Status io.Writer
}

// LoginResult is where a login was stored.
type LoginResult struct {
	// Helper is the credential helper that stored it ("": the file).
	Helper string
	// Path is the config file; Plain reports a password stored in it.
	Path  string
	Plain bool
}

// Login checks credentials with a registry and stores them (docker's
// config.json, or its credential helper). What the registry refused is a
// *RegistryError.
func (e *Engine) Login(ctx context.Context, o LoginOptions) (LoginResult, error) {
	c, creds, err := e.registryClient()
	if err != nil {
		return LoginResult{}, err
	}
	defer c.Close()
	registry := client.RegistryName(o.Server)
	key := credentials.ServerKey(registry)

	ac := credentials.AuthConfig{ServerAddress: key, Username: o.Username, Password: o.Password}
	if o.Username == "" && o.Password == "" {
		// docker first tries what is already stored
		if stored, err := creds.Get(ctx, registry); err == nil && !stored.Empty() {
			if o.Status != nil {
				fmt.Fprintln(o.Status, "Authenticating with existing credentials...")
			}
			if got, err := c.Login(ctx, registry, toAuth(stored)); err == nil {
				return saveLogin(ctx, creds, key, stored.Username, stored.Password, got)
			} else if o.Prompt == nil {
				return LoginResult{}, &RegistryError{err}
			}
			ac.Username = stored.Username
		}
	}
	if ac.Username == "" || ac.Password == "" {
		if o.Prompt == nil {
			return LoginResult{}, errors.New("Cannot perform an interactive login from a non TTY device")
		}
		if err := o.Prompt(&ac, ac.Username); err != nil {
			return LoginResult{}, err
		}
	}
	got, err := c.Login(ctx, registry, toAuth(ac))
	if err != nil {
		if errors.Is(err, errdefs.ErrUnauthorized) || errors.Is(err, errdefs.ErrUnavailable) {
			return LoginResult{}, &RegistryError{err}
		}
		return LoginResult{}, err
	}
	return saveLogin(ctx, creds, key, ac.Username, ac.Password, got)
}

func toAuth(ac credentials.AuthConfig) auth.Credentials {
	return auth.Credentials{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}
}

func saveLogin(ctx context.Context, creds *credentials.File, key, user, pass string, got auth.Credentials) (LoginResult, error) {
	store := credentials.AuthConfig{ServerAddress: key, Username: user, Password: pass}
	if got.IdentityToken != "" {
		store.Password, store.IdentityToken = "", got.IdentityToken
	}
	helper, err := creds.Store(ctx, store)
	if err != nil {
		return LoginResult{}, fmt.Errorf("error saving credentials: %w", err)
	}
	return LoginResult{Helper: helper, Path: creds.Path(), Plain: helper == "" && store.Password != ""}, nil
}

// LogoutResult is what Logout did.
type LogoutResult struct {
	// Shown is the server as docker names it in its messages.
	Shown string
	// LoggedIn reports stored credentials for the server.
	LoggedIn bool
	// EraseErr is the failure to erase them (docker warns only).
	EraseErr error
}

// Logout erases the stored credentials of server ("" for Docker Hub).
func (e *Engine) Logout(ctx context.Context, server string) (LogoutResult, error) {
	r := LogoutResult{Shown: credentials.IndexServer}
	if server == "" {
		server = credentials.IndexServer
	} else {
		r.Shown = credentials.Hostname(server)
	}
	creds, err := credentials.Load(e.CredentialsPath())
	if err != nil {
		return r, err
	}
	if !creds.Has(server) {
		return r, nil
	}
	r.LoggedIn = true
	_, r.EraseErr = creds.Erase(ctx, server)
	return r, nil
}

// RegistryName is the registry a login server names, as docker keys it
// ("docker.io" for Docker Hub's addresses).
func RegistryName(server string) string { return client.RegistryName(server) }

// Authenticate checks a login with its registry (ac.ServerAddress; Docker
// Hub when "") and stores nothing: the Engine API's auth, whose client
// keeps the credentials. It returns the identity token the registry gave
// ("" for none); what the registry refused is a *RegistryError.
func (e *Engine) Authenticate(ctx context.Context, ac AuthConfig) (string, error) {
	c, _, err := e.registry(&ac)
	if err != nil {
		return "", err
	}
	defer c.Close()
	got, err := c.Login(ctx, client.RegistryName(ac.ServerAddress), toAuth(ac))
	if err != nil {
		return "", &RegistryError{err}
	}
	return got.IdentityToken, nil
}
