package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/credentials"
	"github.com/hoistproject/hoist/internal/registry/client/registrytest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestLoginRegistry2 logs in to a real registry:2 with htpasswd auth and
// checks that another tool (skopeo) can use the credentials hoist saved.
func TestLoginRegistry2(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Username: "hoist", Password: "s3cret"})
	dir := dockerConfigDir(t)

	_, errOut, code := runStdin(t, "wrong\n", "login", "-u", "hoist", "--password-stdin", reg.Host)
	if code != 1 || errOut != "Error response from daemon: Get \"http://"+reg.Host+"/v2/\": unauthorized: authentication required\nhoist: wrong username or password for "+reg.Host+"\n" {
		t.Fatalf("wrong password: %d %q", code, errOut)
	}
	out, _, code := runStdin(t, "s3cret\n", "login", "-u", "hoist", "--password-stdin", reg.Host)
	if code != 0 || out != "Login Succeeded\n" {
		t.Fatalf("login: %d %q", code, out)
	}

	// push a small image with the stored credentials
	ctx := context.Background()
	creds, err := credentials.Load(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(client.Options{Credentials: engine.CredentialFunc(creds), CertsDirs: []string{}})
	defer c.Close()
	n, _ := reference.ParseNamed(reg.Host + "/hoist/app")
	repo := c.Repository(n)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
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

	if skopeo, err := exec.LookPath("skopeo"); err == nil {
		cmd := exec.Command(skopeo, "inspect", "--tls-verify=false", "--authfile", filepath.Join(dir, "config.json"), "docker://"+reg.Host+"/hoist/app:v1")
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), desc.Digest.String()) {
			t.Fatalf("skopeo with hoist's credentials: %v\n%s", err, b)
		}
	} else {
		t.Log("skopeo not installed: credential interop not checked")
	}

	out, _, _ = runStdin(t, "", "logout", reg.Host)
	if out != "Removing login credentials for "+reg.Host+"\n" {
		t.Fatalf("logout: %q", out)
	}
	if _, err := c.Repository(n).Resolve(ctx, "v1"); err != nil {
		t.Fatalf("the client keeps its loaded credentials: %v", err)
	}
	creds2, _ := credentials.Load(filepath.Join(dir, "config.json"))
	c2 := client.New(client.Options{Credentials: engine.CredentialFunc(creds2), CertsDirs: []string{}})
	defer c2.Close()
	if _, err := c2.Repository(n).Resolve(ctx, "v1"); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("after logout: %v", err)
	}
	// Logged out, pull says what the registry wants and what to do.
	_, errOut, code = runStdin(t, "", "pull", reg.Host+"/hoist/app:v1")
	if want := "\nhoist: " + reg.Host + " wants credentials it did not get or accept: log in with 'hoist login " + reg.Host + "'\n"; code != 1 || !strings.HasPrefix(errOut, "Error response from daemon: ") || !strings.HasSuffix(errOut, want) {
		t.Errorf("pull without credentials: %d %q", code, errOut)
	}
}
