package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/credentials"
	"github.com/hoistproject/hoist/internal/registry/server"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
)

// TestHoistClientAgainstHoistRegistry: hoist login, a push through the
// registry client, hoist search and a token-auth resolve, all against the
// built-in registry.
func TestHoistClientAgainstHoistRegistry(t *testing.T) {
	for _, withToken := range []bool{false, true} {
		name := "basic"
		if withToken {
			name = "token"
		}
		t.Run(name, func(t *testing.T) {
			st, err := storage.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			opts := []server.Option{htpasswdAuth(t, "hoist", "s3cret")}
			if withToken {
				ta, err := server.NewTokenAuth([]byte(strings.Repeat("k", 32)), "", 0)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, server.WithTokenAuth(ta))
			}
			host := testRegistryOn(t, st, opts...)
			dir := dockerConfigDir(t)

			if _, _, code := runStdin(t, "wrong\n", "login", "-u", "hoist", "--password-stdin", host); code != 1 {
				t.Fatalf("wrong password: exit %d", code)
			}
			if out, errOut, code := runStdin(t, "s3cret\n", "login", "-u", "hoist", "--password-stdin", host); code != 0 || out != "Login Succeeded\n" {
				t.Fatalf("login: %d %q %q", code, out, errOut)
			}
			creds, err := credentials.Load(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			c := client.New(client.Options{Credentials: engine.CredentialFunc(creds), CertsDirs: []string{}})
			defer c.Close()
			ctx := context.Background()
			n, _ := reference.ParseNamed(host + "/library/busybox")
			repo := c.Repository(n)
			cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Labels":{"org.opencontainers.image.description":"Tiny utilities for small images"}},"rootfs":{"type":"layers","diff_ids":[]}}`)
			cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
			if err := repo.PushBlob(ctx, cfgDesc, bytes.NewReader(cfg)); err != nil {
				t.Fatal(err)
			}
			m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: []ocispec.Descriptor{}}
			m.SchemaVersion = 2
			mb, _ := json.Marshal(m)
			desc, err := repo.PushManifest(ctx, "v1", ocispec.MediaTypeImageManifest, mb)
			if err != nil {
				t.Fatal(err)
			}
			got, err := repo.Resolve(ctx, "v1")
			if err != nil || got.Digest != desc.Digest {
				t.Fatalf("resolve: %v %v", got, err)
			}
			out, errOut, code := runStdin(t, "", "search", host+"/busy")
			if code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "library/busybox") ||
				!strings.Contains(out, "Tiny utilities for small images") || !strings.Contains(out, "[OK]") {
				t.Fatalf("search: %d %q %q", code, out, errOut)
			}
		})
	}
}

// htpasswdAuth is the registry option of one htpasswd login.
func htpasswdAuth(t *testing.T, user, password string) server.Option {
	t.Helper()
	hash, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	h, err := server.ParseHtpasswd([]byte(user+":"+string(hash)+"\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	return server.WithHtpasswd(h, "hoist test")
}
