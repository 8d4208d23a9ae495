package imagearchive

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerStore is a layer store over a fresh root, with its content store.
func layerStore(t *testing.T) (*layers.Store, *content.Local, string) {
	t.Helper()
	root := t.TempDir()
	cs, err := content.NewLocal(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := layers.New(root, metadata.Open(root), cs)
	if err != nil {
		t.Fatal(err)
	}
	return ls, cs, filepath.Join(root, "layers", "tmp")
}

func tmpEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestLoadStagesLayers: with Options.Stage, each layer member is
// unpacked while it is stored (and only layer members: configs are not),
// and the layer store commits those directories; what no image uses is
// removed.
func TestLoadStagesLayers(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	base := layerTar(t, "base", "shared layer")
	topTar := layerTar(t, "top", "only in two")
	shared := put(t, src, base)
	top := put(t, src, gzipped(t, topTar))
	img1 := Image{Config: put(t, src, configFor(shared.Digest)), Layers: []ocispec.Descriptor{shared}, Names: []reference.Named{mustName(t, "one")}}
	img2 := Image{Config: put(t, src, configFor(shared.Digest, digest.FromBytes(topTar))), Layers: []ocispec.Descriptor{shared, top}}
	var buf bytes.Buffer
	if err := Save(ctx, &buf, src, []Image{img1, img2}, nil); err != nil {
		t.Fatal(err)
	}

	ls, cs, tmp := layerStore(t)
	var fed []digest.Digest
	got, err := Load(ctx, bytes.NewReader(buf.Bytes()), cs, Options{Stage: func(ctx context.Context, r io.Reader) (*layers.Staged, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		fed = append(fed, digest.FromBytes(b))
		return ls.Stage(ctx, bytes.NewReader(b), layers.StageOptions{})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fed) != 2 || fed[0] == fed[1] || (fed[0] != shared.Digest && fed[0] != top.Digest) || (fed[1] != shared.Digest && fed[1] != top.Digest) {
		t.Fatalf("Stage was fed %v, want the two layer blobs %s %s", fed, shared.Digest, top.Digest)
	}
	p := got[1].Staged
	if len(p) != 2 || p[shared.Digest] == nil || p[top.Digest] == nil {
		t.Fatalf("Loaded.Staged = %v", p)
	}
	if n := len(tmpEntries(t, tmp)); n != 2 {
		t.Fatalf("%d staged directories, want 2", n)
	}
	chain, err := ls.CreateChain(ctx, got[1].Layers, []digest.Digest{shared.Digest, digest.FromBytes(topTar)}, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ls.DiffDir(chain[1].ChainID), "top")); err != nil {
		t.Fatal(err)
	}
	if names := tmpEntries(t, tmp); len(names) != 0 {
		t.Fatalf("layers/tmp after commit: %v", names)
	}

	// Loaded but not recorded: DiscardStaged removes the directories.
	got, err = Load(ctx, bytes.NewReader(buf.Bytes()), newStore(t), Options{Stage: func(ctx context.Context, r io.Reader) (*layers.Staged, error) {
		return ls.Stage(ctx, r, layers.StageOptions{})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tmpEntries(t, tmp)); n != 2 {
		t.Fatalf("%d staged directories, want 2", n)
	}
	DiscardStaged(got)
	if names := tmpEntries(t, tmp); len(names) != 0 {
		t.Fatalf("layers/tmp after DiscardStaged: %v", names)
	}
}

// TestLoadStagedBadInput: a layer member whose digest does not match its
// name, a failed load after a layer was unpacked, and a layer member that
// is a broken tar leave no unpacked directory behind.
func TestLoadStagedBadInput(t *testing.T) {
	ctx := context.Background()
	lt := layerTar(t, "f", strings.Repeat("x", 5000))
	cfg := configFor(digest.FromBytes(lt))
	cd := digest.FromBytes(cfg)
	mj := func(layers ...string) []byte {
		b, _ := json.Marshal([]dockerManifestEntry{{Config: cd.Encoded() + ".json", Layers: layers}})
		return b
	}
	broken := append([]byte{}, lt[:1024]...) // a header and part of the file
	cases := map[string][]byte{
		"digest mismatch": mkTar(member{name: "blobs/sha256/" + digest.FromString("other").Encoded(), body: lt}),
		"missing member": mkTar(member{name: "l/layer.tar", body: lt}, member{name: cd.Encoded() + ".json", body: cfg},
			member{name: "manifest.json", body: mj("l/layer.tar", "nope/layer.tar")}),
		"broken layer tar": mkTar(member{name: "l/layer.tar", body: broken}, member{name: cd.Encoded() + ".json", body: cfg},
			member{name: "manifest.json", body: mj("l/layer.tar")}),
		"truncated archive": mkTar(member{name: "l/layer.tar", body: lt})[:3000],
	}
	for name, arch := range cases {
		t.Run(name, func(t *testing.T) {
			ls, cs, tmp := layerStore(t)
			got, err := Load(ctx, bytes.NewReader(arch), cs, Options{Stage: func(ctx context.Context, r io.Reader) (*layers.Staged, error) {
				return ls.Stage(ctx, r, layers.StageOptions{})
			}})
			if err == nil {
				// The broken layer loads as a blob; only unpacking it fails.
				if _, err := ls.CreateChain(ctx, got[0].Layers, []digest.Digest{digest.FromBytes(lt)}, got[0].Staged); err == nil {
					t.Fatal("a broken layer was unpacked")
				}
				DiscardStaged(got)
			}
			if names := tmpEntries(t, tmp); len(names) != 0 {
				t.Fatalf("layers/tmp after a failed load: %v", names)
			}
		})
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}
