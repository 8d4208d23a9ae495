package client

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/client/registrytest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestInteropSkopeo: an image pushed by skopeo into registry:2 pulls with
// the same digests, and an image pushed by hoist is read by skopeo.
func TestInteropSkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed")
	}
	reg := registrytest.Start(t, registrytest.Options{Username: "hoist", Password: "s3cret"})
	creds := auth.Credentials{Username: "hoist", Password: "s3cret"}
	c := New(Options{Credentials: func(_ context.Context, _ string) (auth.Credentials, error) { return creds, nil }, CertsDirs: []string{}})
	defer c.Close()

	// a content.Local root is an OCI layout once it has oci-layout and index.json
	root := t.TempDir()
	st, err := content.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	img := buildImage(t, st)
	ref := img.index
	ref.Annotations = map[string]string{ocispec.AnnotationRefName: "1.0"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{ref}}
	idx.SchemaVersion = 2
	b, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(root, "index.json"), b, 0o644)
	os.WriteFile(filepath.Join(root, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)

	out, err := exec.Command(skopeo, "copy", "--all", "--preserve-digests", "--dest-tls-verify=false", "--dest-creds", "hoist:s3cret",
		"oci:"+root+":1.0", "docker://"+reg.Host+"/skopeo/app:1.0").CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	arm, _ := ParsePlatform("linux/arm64")
	res, err := Pull(ctx, []*Repository{c.Repository(mustName(t, reg.Host+"/skopeo/app"))}, "1.0", newLocal(t), PullOptions{Platform: &arm})
	if err != nil || res.Index == nil || res.Index.Digest != img.index.Digest || res.Manifest.Digest != img.arm64.Digest {
		t.Fatalf("pull of skopeo's push: %+v %v", res, err)
	}

	// hoist pushes, skopeo reads the same digest
	if _, err := Push(ctx, st, c.Repository(mustName(t, reg.Host+"/hoist/app")), img.amd64, "x", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(skopeo, "inspect", "--raw", "--tls-verify=false", "--creds", "hoist:s3cret", "docker://"+reg.Host+"/hoist/app:x").Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	if d := digestOf(out); d != img.amd64.Digest.String() {
		t.Fatalf("skopeo sees manifest %s, pushed %s", d, img.amd64.Digest)
	}
}

func digestOf(b []byte) string { return digest.FromBytes(b).String() }
