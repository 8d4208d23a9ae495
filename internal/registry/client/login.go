package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
)

// RegistryName normalises what a user typed as a login server
// ("https://index.docker.io/v1/", "http://host:5000/", "host:5000") into
// the registry name used in references ("docker.io", "host:5000").
func RegistryName(server string) string {
	s := server
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return DockerHub
	}
	return s
}

// Login checks creds against registry (a name from RegistryName): it
// answers the registry's challenge with them and requires GET /v2/ to
// succeed. It returns the credentials to store: when the token server issues
// a refresh token it replaces the password (as docker stores an identity
// token).
func (c *Client) Login(ctx context.Context, registry string, creds auth.Credentials) (auth.Credentials, error) {
	h := c.registry(registry)
	az := auth.New(h.addr, c.http, func(context.Context, string) (auth.Credentials, error) { return creds, nil }, auth.Options{})
	base, err := c.ping(ctx, h, az)
	if err != nil {
		return creds, err
	}
	u := endpoint(base, "/v2/", nil)
	ch := az.Challenge()
	if ch == nil {
		return creds, nil // the registry needs no credentials
	}
	out := creds
	if ch.Scheme == "bearer" && creds.IdentityToken == "" && creds.RegistryToken == "" {
		tok, err := az.FetchToken(ctx, ch, creds, nil, true)
		if err != nil {
			return creds, fmt.Errorf("Get %q: %w", u, err)
		}
		if tok.RefreshToken != "" {
			out = auth.Credentials{Username: creds.Username, IdentityToken: tok.RefreshToken}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return creds, err
	}
	resp, err := c.doWith(ctx, h, az, req, nil)
	if err != nil {
		return creds, err
	}
	if resp.StatusCode != http.StatusOK {
		err := responseError(resp, "")
		if resp.StatusCode == http.StatusUnauthorized {
			return creds, errdefs.Unauthorizedf("Get %q: %w", u, err)
		}
		return creds, fmt.Errorf("Get %q: %w", u, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return out, nil
}
