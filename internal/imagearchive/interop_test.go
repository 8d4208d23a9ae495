package imagearchive

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// peerUp reports whether the peer engine's CLI is installed and answers.
func peerUp(t *testing.T, bin string, args ...string) bool {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, bin, args...).Run() == nil
}

// busyboxTar makes a busybox rootfs tar with the project's script.
func busyboxTar(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed")
	}
	out := filepath.Join(t.TempDir(), "bb.tar")
	cmd := exec.Command("../../scripts/mkbusybox.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkbusybox: %v\n%s", err, b)
	}
	return out
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// TestDockerInterop: docker save → Load keeps the image ID; Save → docker
// load gives the same image ID back.
func TestDockerInterop(t *testing.T) {
	if testing.Short() || !peerUp(t, "docker", "info") {
		t.Skip("no docker engine answering (CI starts dockerd)")
	}
	testPeerInterop(t, "docker")
}

// TestPodmanInterop: the same with podman, in its docker-archive and
// oci-archive formats.
func TestPodmanInterop(t *testing.T) {
	if testing.Short() || !peerUp(t, "podman", "info") {
		t.Skip("podman not installed or not working")
	}
	testPeerInterop(t, "podman")
}

func testPeerInterop(t *testing.T, peer string) {
	ctx := context.Background()
	name := "hoist-interop/" + peer + ":t" + digest.FromString(t.Name() + time.Now().String()).Encoded()[:8]
	id := sh(t, peer, "import", busyboxTar(t), name)
	t.Cleanup(func() { exec.Command(peer, "rmi", "-f", name).Run() })
	if !strings.HasPrefix(id, "sha256:") {
		id = sh(t, peer, "image", "inspect", "-f", "{{.Id}}", name)
	}
	if !strings.HasPrefix(id, "sha256:") {
		id = "sha256:" + id
	}
	formats := [][]string{{"save", "-o"}}
	if peer == "podman" {
		formats = append(formats, []string{"save", "--format", "oci-archive", "-o"})
	}
	for _, f := range formats {
		arch := filepath.Join(t.TempDir(), "peer.tar")
		sh(t, peer, append(append([]string{}, f...), arch, name)...)
		s := newStore(t)
		fh, err := os.Open(arch)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Load(ctx, fh, s, Options{})
		fh.Close()
		if err != nil {
			t.Fatalf("%s %v: load: %v", peer, f, err)
		}
		if len(got) != 1 || got[0].Config.Digest.String() != id {
			t.Fatalf("%s %v: loaded %+v, want config %s", peer, f, got, id)
		}
		if len(got[0].Names) != 1 || !strings.HasSuffix(reference.FamiliarName(got[0].Names[0]), "hoist-interop/"+peer) {
			t.Fatalf("%s %v: names %v", peer, f, got[0].Names)
		}

		// And back: our archive into the peer under a new name.
		back := name + "-back"
		n, _ := reference.ParseTagged(back)
		img := Image{Config: got[0].Config, Layers: got[0].Layers, Names: []reference.Named{n}}
		out := filepath.Join(t.TempDir(), "hoist.tar")
		var buf bytes.Buffer
		if err := Save(ctx, &buf, s, []Image{img}, nil); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(out, buf.Bytes(), 0o644)
		sh(t, peer, "load", "-i", out)
		t.Cleanup(func() { exec.Command(peer, "rmi", "-f", back).Run() })
		// podman prefixes short names with localhost/ only when it names them
		// itself; a docker.io name from an archive stays as it is.
		gotID := sh(t, peer, "image", "inspect", "-f", "{{.Id}}", back)
		if !strings.HasPrefix(gotID, "sha256:") {
			gotID = "sha256:" + gotID
		}
		if gotID != id {
			t.Fatalf("%s load of hoist's archive: ID %s, want %s", peer, gotID, id)
		}
	}
}

// TestSkopeoInterop: skopeo reads hoist's archive (as docker-archive and as an
// OCI layout inside it) and converts it to docker-archive and oci-archive,
// and hoist loads both conversions with the same image ID.
func TestSkopeoInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed")
	}
	ctx := context.Background()
	src := newStore(t)
	bb, err := os.ReadFile(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	l := put(t, src, bb)
	cfg := put(t, src, configFor(l.Digest))
	img := Image{Config: cfg, Layers: []ocispec.Descriptor{l}, Names: []reference.Named{mustName(t, "skopeo/bb:1")}}
	dir := t.TempDir()
	ours := filepath.Join(dir, "hoist.tar")
	var buf bytes.Buffer
	if err := Save(ctx, &buf, src, []Image{img}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ours, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"docker-archive:" + filepath.Join(dir, "d.tar") + ":skopeo/bb:1", "oci-archive:" + filepath.Join(dir, "o.tar") + ":skopeo/bb:1"} {
		sh(t, "skopeo", "copy", "-q", "docker-archive:"+ours, dst)
		p := strings.Split(dst, ":")[1]
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Load(ctx, f, newStore(t), Options{})
		f.Close()
		if err != nil {
			t.Fatalf("load of skopeo's %s: %v", dst, err)
		}
		if len(got) != 1 || got[0].Config.Digest != cfg.Digest {
			t.Fatalf("skopeo %s: loaded %+v, want config %s", dst, got, cfg.Digest)
		}
	}
	// skopeo also reads the OCI side of hoist's archive.
	layout := t.TempDir()
	if out, err := exec.Command("tar", "-C", layout, "-xf", ours).CombinedOutput(); err != nil {
		t.Fatalf("untar: %v %s", err, out)
	}
	if out := sh(t, "skopeo", "inspect", "--config", "oci:"+layout+":1"); !strings.Contains(out, `"rootfs"`) {
		t.Fatalf("skopeo inspect of the OCI layout: %s", out)
	}
}
