package engine

import (
	"context"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/credentials"
)

// registryClient opens a registry client (close it after use): hoist's config
// file ($HOIST_CONFIG or /etc/hoist/config.json) and docker's credentials
// (Options.Config, $DOCKER_CONFIG/config.json or ~/.docker/config.json),
// which it returns too.
func (e *Engine) registryClient() (*client.Client, *credentials.File, error) {
	return e.registry(nil)
}

// registry is registryClient; with given credentials (a request's own, the
// Engine API's X-Registry-Auth) the client uses them, and nothing stored,
// for every registry it talks to.
func (e *Engine) registry(given *AuthConfig) (*client.Client, *credentials.File, error) {
	cfg, err := client.LoadConfig(client.DefaultConfigPath())
	if err != nil {
		return nil, nil, err
	}
	creds, err := credentials.Load(e.CredentialsPath())
	if err != nil {
		return nil, nil, err
	}
	credFn := CredentialFunc(creds)
	if given != nil {
		a := toAuth(*given)
		credFn = func(context.Context, string) (auth.Credentials, error) { return a, nil }
	}
	c := client.New(client.Options{
		Config:      cfg,
		Credentials: credFn,
		UserAgent:   e.o.UserAgent,
		Logger:      e.o.Logger,
	})
	return c, creds, nil
}

// CredentialsPath is docker's config.json: under Options.Config when given.
func (e *Engine) CredentialsPath() string {
	if e.o.Config != "" {
		return filepath.Join(e.o.Config, "config.json")
	}
	return credentials.DefaultPath()
}

// CredentialFunc adapts the docker config file to the client; no stored
// credentials means anonymous.
func CredentialFunc(f *credentials.File) auth.CredentialFunc {
	return func(ctx context.Context, registry string) (auth.Credentials, error) {
		ac, err := f.Get(ctx, registry)
		if errdefs.IsNotFound(err) {
			return auth.Credentials{}, nil
		}
		if err != nil {
			return auth.Credentials{}, err
		}
		return auth.Credentials{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}, nil
	}
}
