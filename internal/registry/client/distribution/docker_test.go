package distribution

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/registrytest"
)

// dockerUp skips the test unless a docker engine answers.
func dockerUp(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		t.Skip("no docker engine answering")
	}
}

func dockerCmd(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestInteropDocker: hoist push -> docker pull, and docker push -> hoist
// pull, with the same image IDs and digests on both sides, against hoist's
// registry and registry:2.
func TestInteropDocker(t *testing.T) {
	dockerUp(t)
	for _, reg := range []struct {
		kind string
		auth bool
		host func(t *testing.T) string
	}{
		{"hoist", false, hoistRegistry},
		{"registry2-htpasswd", true, func(t *testing.T) string {
			return registrytest.Start(t, registrytest.Options{Username: "hoist", Password: "s3cret"}).Host
		}},
	} {
		t.Run(reg.kind, func(t *testing.T) {
			host := reg.host(t)
			c := newClient()
			cfgDir := t.TempDir()
			docker := func(t *testing.T, stdin []byte, args ...string) string {
				return dockerCmd(t, stdin, append([]string{"--config", cfgDir}, args...)...)
			}
			if reg.auth {
				c = client.New(client.Options{CertsDirs: []string{}, Credentials: func(context.Context, string) (auth.Credentials, error) {
					return auth.Credentials{Username: "hoist", Password: "s3cret"}, nil
				}})
				docker(t, []byte("s3cret"), "login", "-u", "hoist", "--password-stdin", host)
			}
			defer c.Close()
			st := openStore(t)
			ref := host + "/interop/fromhoist:v1"
			img, err := st.Import(ctx, bytes.NewReader(layerTar(t, "a.txt", "from hoist\n")), images.ImportOptions{Name: ref})
			if err != nil {
				t.Fatal(err)
			}
			pushed, err := Push(ctx, c, st, name(t, ref), PushOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
			docker(t, nil, "pull", "-q", ref)
			if id := docker(t, nil, "image", "inspect", "--format", "{{.Id}}", ref); id != img.ID.String() {
				t.Fatalf("docker sees image %s, hoist pushed %s", id, img.ID)
			}
			if rd := docker(t, nil, "image", "inspect", "--format", "{{join .RepoDigests \",\"}}", ref); !strings.Contains(rd, pushed[0].Digest.String()) {
				t.Fatalf("docker repo digests %s, pushed %s", rd, pushed[0].Digest)
			}

			dref := host + "/interop/fromdocker:v1"
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", dref).Run() })
			docker(t, layerTar(t, "b.txt", "from docker\n"), "import", "-", dref)
			out := docker(t, nil, "push", dref)
			did := docker(t, nil, "image", "inspect", "--format", "{{.Id}}", dref)
			res, err := Pull(ctx, c, openStore(t), name(t, dref), PullOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.ImageID.String() != did || !strings.Contains(out, "digest: "+res.Digest.String()) {
				t.Fatalf("hoist pulled %s (%s), docker pushed %s:\n%s", res.ImageID, res.Digest, did, out)
			}
		})
	}
}
