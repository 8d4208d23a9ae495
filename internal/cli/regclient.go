package cli

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/credentials"
	"golang.org/x/term"
)

// registryClient opens the registry client: hoist's config file
// ($HOIST_CONFIG or /etc/hoist/config.json) and docker's credentials
// ($DOCKER_CONFIG/config.json or ~/.docker/config.json).
func (e *env) registryClient() (*client.Client, *credentials.File, error) {
	cfg, err := client.LoadConfig(client.DefaultConfigPath())
	if err != nil {
		return nil, nil, err
	}
	creds, err := credentials.Load(e.credentialsPath())
	if err != nil {
		return nil, nil, err
	}
	c := client.New(client.Options{
		Config:      cfg,
		Credentials: credentialFunc(creds),
		UserAgent:   "hoist/" + Version,
		Logger:      e.logger(),
	})
	return c, creds, nil
}

// credentialsPath is docker's config.json: under --config when given.
func (e *env) credentialsPath() string {
	if e.g.Config != "" {
		return filepath.Join(e.g.Config, "config.json")
	}
	return credentials.DefaultPath()
}

// credentialFunc adapts the docker config file to the client; no stored
// credentials means anonymous.
func credentialFunc(f *credentials.File) auth.CredentialFunc {
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

// daemonError reports err as docker prints a failure reported by its
// daemon ("Error response from daemon: ...", exit status 1).
func (e *env) daemonError(err error) error { return &shapedErr{err: err, daemon: true} }

// inputTTY returns the terminal file descriptor of stdin, if it is one.
func (e *env) inputTTY() (int, bool) {
	f, ok := e.in.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}
