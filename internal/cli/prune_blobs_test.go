package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestBuildCachePruneKeepsPushedBlobs: builder prune and system prune
// remove layers no image reaches through the same rule as rmi
// (images.BlobsInUse), so they never delete a blob an image's stored
// manifest names. Here the gzip blob a push made of a built image's layer
// is also the blob of a layer that no image reaches any more (pulled on
// another base, left by a container of an image removed with rmi -f).
// After each prune the pushed image is intact: system check clean, and it
// saves, pushes and runs.
func TestBuildCachePruneKeepsPushedBlobs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real binary)")
	}
	h, ctx := buildEnv(t)
	dockerConfigDir(t)
	reg := serveRegistryBinary(t, h.bin)
	img, other := reg+"/prune/img:1", reg+"/prune/other:1"
	h.must(tarWithFile(t, nil, "base2", "another base\n"), "import", "-", "base2")
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nCOPY hello.txt /\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "Dockerfile.other"), []byte("FROM base2\nCOPY hello.txt /\n"), 0o644)
	h.must(nil, "build", "-q", "-t", img, ctx)
	h.must(nil, "push", img)
	// A container keeps the image through system prune -a.
	h.must(nil, "run", "-d", "--name", "keep", "--network", "none", img, "sleep", "600")
	t.Cleanup(func() { h.run(nil, "rm", "-f", "keep") })

	// A layer reached by no image whose blob is the gzip blob img's
	// manifest names: other's top layer is img's, on another base.
	strand := func() {
		t.Helper()
		h.must(nil, "build", "-q", "-f", filepath.Join(ctx, "Dockerfile.other"), "-t", other, ctx)
		if out := h.must(nil, "push", other); !strings.Contains(out, ": Mounted from prune/img\n") && !strings.Contains(out, ": Layer already exists\n") {
			t.Fatalf("push of the same layer on another base:\n%s", out)
		}
		h.must(nil, "rmi", other)
		h.must(nil, "pull", other) // its top layer now stored as img's gzip blob
		h.must(nil, "create", "--name", "strand", other, "true")
		h.must(nil, "rmi", "-f", other)
		h.must(nil, "rm", "strand")
	}
	// img's config, pushed manifest and the layers it names (the gzip one too).
	var kept []string
	for _, d := range strings.Fields(h.must(nil, "inspect", "--format", "{{.Id}} {{index .RepoDigests 0}}", img)) {
		kept = append(kept, d[strings.LastIndex(d, ":")+1:])
	}
	raw, err := os.ReadFile(filepath.Join(h.root, "content", "blobs", "sha256", kept[1]))
	if err != nil {
		t.Fatalf("img's pushed manifest is not stored: %v", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) != 2 {
		t.Fatalf("img's manifest: %v %s", err, raw)
	}
	for _, l := range m.Layers {
		kept = append(kept, l.Digest.Encoded())
	}
	check := func(where string) {
		t.Helper()
		got := blobFiles(t, h.root)
		for _, b := range kept {
			if _, ok := got[b]; !ok {
				t.Fatalf("%s: blob %s (of an image still tagged) deleted", where, b)
			}
		}
		h.checkNoLeftover(where)
		h.must(nil, "save", "-o", filepath.Join(t.TempDir(), "img.tar"), img)
		h.must(nil, "push", img)
		if out := h.must(nil, "run", "--rm", "--network", "none", img, "cat", "/hello.txt"); out != "hello\n" {
			t.Fatalf("%s: run: %q", where, out)
		}
	}
	strand()
	h.must(nil, "builder", "prune", "-af")
	check("after builder prune -af")
	strand()
	h.must(nil, "system", "prune", "-af")
	check("after system prune -af")
}
