package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// writeOCILayout writes a one-layer image as an OCI layout tagged v1 and
// returns its manifest digest.
func writeOCILayout(t *testing.T, dir string) digest.Digest {
	t.Helper()
	var tb bytes.Buffer
	gz := gzip.NewWriter(&tb)
	tw := tar.NewWriter(gz)
	content := []byte("hello from hoist\n")
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write(content)
	tw.Close()
	gz.Close()
	layer := tb.Bytes()
	var raw bytes.Buffer
	tw = tar.NewWriter(&raw)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write(content)
	tw.Close()
	cfg, _ := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
		Config:   ocispec.ImageConfig{Labels: map[string]string{"org.opencontainers.image.description": "interop image"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(raw.Bytes())}},
	})
	man, _ := json.Marshal(ocispec.Manifest{
		Versioned: specsVersioned, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(layer), Size: int64(len(layer))}},
	})
	os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
	for _, b := range [][]byte{layer, cfg, man} {
		os.WriteFile(filepath.Join(dir, "blobs", "sha256", digest.FromBytes(b).Encoded()), b, 0o644)
	}
	md := digest.FromBytes(man)
	idx, _ := json.Marshal(ocispec.Index{Versioned: specsVersioned, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{{
		MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(man)),
		Annotations: map[string]string{ocispec.AnnotationRefName: "v1"},
	}}})
	os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return md
}

func skopeo(t *testing.T, args ...string) (string, error) {
	t.Helper()
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)
	cmd := exec.Command("skopeo", append([]string{"--policy", policy}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSkopeoInterop(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed")
	}
	for _, mode := range []string{"none", "basic", "token"} {
		withAuth := mode != "none"
		t.Run("auth="+mode, func(t *testing.T) {
			var opts []Option
			var creds []string
			if withAuth {
				if _, err := exec.LookPath("htpasswd"); err != nil {
					t.Skip("htpasswd (apache2-utils) not installed")
				}
				out, err := exec.Command("htpasswd", "-Bbn", "skopeo", "pa55word").Output()
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(t.TempDir(), "htpasswd")
				os.WriteFile(file, out, 0o600)
				h, err := LoadHtpasswd(file)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, WithHtpasswd(h, "interop"))
				if mode == "token" {
					ta, err := NewTokenAuth([]byte(strings.Repeat("s", 32)), "", 0)
					if err != nil {
						t.Fatal(err)
					}
					opts = append(opts, WithTokenAuth(ta))
				}
				creds = []string{"skopeo", "pa55word"}
			}
			r := newTestRegistry(t, opts...)
			host := strings.TrimPrefix(r.srv.URL, "http://")
			src := t.TempDir()
			md := writeOCILayout(t, src)
			ref := "docker://" + host + "/interop/img:v1"

			push := []string{"copy", "--dest-tls-verify=false"}
			pull := []string{"copy", "--src-tls-verify=false"}
			if withAuth {
				if out, err := skopeo(t, append(push, "oci:"+src+":v1", ref)...); err == nil {
					t.Fatalf("anonymous push succeeded with auth on: %s", out)
				}
				push = append(push, "--dest-creds", creds[0]+":"+creds[1])
				pull = append(pull, "--src-creds", creds[0]+":"+creds[1])
			}
			if out, err := skopeo(t, append(push, "oci:"+src+":v1", ref)...); err != nil {
				t.Fatalf("push: %v\n%s", err, out)
			}
			dst := t.TempDir()
			if out, err := skopeo(t, append(pull, ref, "oci:"+dst+":v1")...); err != nil {
				t.Fatalf("pull: %v\n%s", err, out)
			}
			b, err := os.ReadFile(filepath.Join(dst, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			var idx ocispec.Index
			json.Unmarshal(b, &idx)
			if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != md {
				t.Fatalf("round trip changed the manifest: %s (want %s)", b, md)
			}
			// The server stored it byte for byte.
			if withAuth {
				r.user, r.pass = creds[0], creds[1]
			}
			resp := r.do("GET", "/v2/interop/img/manifests/v1", nil)
			r.expect(resp, http.StatusOK, "")
			if resp.Header.Get("Docker-Content-Digest") != md.String() {
				t.Fatalf("served digest %s", resp.Header.Get("Docker-Content-Digest"))
			}
			// And search indexed the image description.
			if b := r.expect(r.do("GET", "/v1/search?q=interop", nil), http.StatusOK, ""); !strings.Contains(string(b), `"description":"interop image"`) {
				t.Fatalf("search: %s", b)
			}
		})
	}
}
