package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newStore(t *testing.T) *content.Local {
	s, err := content.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// layerTar makes an uncompressed layer tar holding one file.
func layerTar(t *testing.T, name, body string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	io.WriteString(tw, body)
	tw.Close()
	return b.Bytes()
}

func put(t *testing.T, s content.Ingester, b []byte) ocispec.Descriptor {
	t.Helper()
	info, err := content.WriteBlob(context.Background(), s, bytes.NewReader(b), int64(len(b)), "")
	if err != nil {
		t.Fatal(err)
	}
	return ocispec.Descriptor{Digest: info.Digest, Size: info.Size, MediaType: ocispec.MediaTypeImageLayer}
}

func configFor(diffIDs ...digest.Digest) []byte {
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}}
	b, _ := json.Marshal(cfg)
	return b
}

func mustName(t *testing.T, s string) reference.Named {
	n, err := reference.ParseTagged(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	shared := put(t, src, layerTar(t, "base", "shared layer"))
	top := put(t, src, layerTar(t, "top", "only in two"))
	img1 := Image{Config: put(t, src, configFor(shared.Digest)), Layers: []ocispec.Descriptor{shared},
		Names: []reference.Named{mustName(t, "one"), mustName(t, "example.com/ns/one:v1")}}
	img2 := Image{Config: put(t, src, configFor(shared.Digest, top.Digest)), Layers: []ocispec.Descriptor{shared, top}}
	var buf bytes.Buffer
	if err := Save(ctx, &buf, src, []Image{img1, img2}, nil); err != nil {
		t.Fatal(err)
	}
	// The shared layer is written once.
	if n := strings.Count(buf.String(), "shared layer"); n != 1 {
		t.Fatalf("shared layer written %d times", n)
	}
	dst := newStore(t)
	got, err := Load(ctx, bytes.NewReader(buf.Bytes()), dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("loaded %d images", len(got))
	}
	if got[0].Config.Digest != img1.Config.Digest || len(got[0].Names) != 2 || reference.Familiar(got[0].Names[0]) != "one:latest" {
		t.Fatalf("image 1: %+v", got[0])
	}
	if got[1].Config.Digest != img2.Config.Digest || len(got[1].Layers) != 2 || got[1].Layers[1].Digest != top.Digest || len(got[1].Names) != 0 {
		t.Fatalf("image 2: %+v", got[1])
	}
	// The OCI side alone (index.json) resolves to the same images.
	var ociOnly bytes.Buffer
	tw := tar.NewWriter(&ociOnly)
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == "manifest.json" || h.Name == "repositories" {
			continue
		}
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	tw.Close()
	got, err = Load(ctx, &ociOnly, newStore(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Config.Digest != img1.Config.Digest || len(got[0].Names) != 2 {
		t.Fatalf("OCI-only load: %+v", got)
	}
}

type member struct {
	name, link string
	body       []byte
	typ        byte
}

func mkTar(ms ...member) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: 0o644, Typeflag: m.typ, Linkname: m.link}
		if m.typ == 0 {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(m.body))
		}
		tw.WriteHeader(h)
		tw.Write(m.body)
	}
	tw.Close()
	return b.Bytes()
}

func TestLoadLegacyDockerWithSymlinkedLayer(t *testing.T) {
	lt := layerTar(t, "f", "legacy")
	ld := digest.FromBytes(lt)
	cfg := configFor(ld, ld)
	cd := digest.FromBytes(cfg)
	mj, _ := json.Marshal([]dockerManifestEntry{{Config: cd.Encoded() + ".json", RepoTags: []string{"legacy:1"}, Layers: []string{"aaa/layer.tar", "bbb/layer.tar"}}})
	arch := mkTar(
		member{name: "aaa/", typ: tar.TypeDir},
		member{name: "aaa/layer.tar", body: lt},
		member{name: "bbb/layer.tar", link: "../aaa/layer.tar", typ: tar.TypeSymlink},
		member{name: cd.Encoded() + ".json", body: cfg},
		member{name: "manifest.json", body: mj},
	)
	got, err := Load(context.Background(), bytes.NewReader(arch), newStore(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Layers) != 2 || got[0].Layers[1].Digest != ld || reference.Familiar(got[0].Names[0]) != "legacy:1" {
		t.Fatalf("got %+v", got)
	}
}

func TestLoadBadInput(t *testing.T) {
	lt := layerTar(t, "f", "x")
	cfg := configFor(digest.FromBytes(lt))
	cd := digest.FromBytes(cfg)
	good := func(layers ...string) []byte {
		b, _ := json.Marshal([]dockerManifestEntry{{Config: "c.json", Layers: layers}})
		return b
	}
	wrongCfgName := digest.FromString("other").Encoded() + ".json"
	cases := map[string]struct {
		arch []byte
		want string
	}{
		"not a tar":       {[]byte("definitely not a tar archive, just text that is long enough to not be a header............................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"), "invalid archive"},
		"empty":           {nil, "invalid archive"},
		"escaping path":   {mkTar(member{name: "c.json", body: cfg}, member{name: "manifest.json", body: good("../../x")}), `"../../x" is not in the archive`},
		"no manifest":     {mkTar(member{name: "c.json", body: cfg}), "no manifest.json or index.json"},
		"blob mismatch":   {mkTar(member{name: "blobs/sha256/" + cd.Encoded(), body: []byte("tampered")}), "digest mismatch"},
		"config mismatch": {mkTar(member{name: wrongCfgName, body: cfg}, member{name: "manifest.json", body: mustJSON([]dockerManifestEntry{{Config: wrongCfgName}})}), "content digest is"},
		"link loop":       {mkTar(member{name: "a", link: "b", typ: tar.TypeSymlink}, member{name: "b", link: "a", typ: tar.TypeSymlink}, member{name: "manifest.json", body: mustJSON([]dockerManifestEntry{{Config: "a"}})}), "too many levels"},
		"bad repotag":     {mkTar(member{name: "c.json", body: cfg}, member{name: "manifest.json", body: mustJSON([]dockerManifestEntry{{Config: "c.json", RepoTags: []string{"UPPER:tag"}}})}), "invalid reference format"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			_, err := Load(context.Background(), bytes.NewReader(c.arch), s, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			n := 0
			s.Walk(context.Background(), func(content.Info) error { n++; return nil })
			if n != 0 {
				t.Fatalf("%d blobs left behind by a failed load", n)
			}
		})
	}
}

func TestLoadTruncated(t *testing.T) {
	src := newStore(t)
	l := put(t, src, bytes.Repeat([]byte("y"), 100000))
	img := Image{Config: put(t, src, configFor(l.Digest)), Layers: []ocispec.Descriptor{l}, Names: []reference.Named{mustName(t, "t")}}
	var buf bytes.Buffer
	if err := Save(context.Background(), &buf, src, []Image{img}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), bytes.NewReader(buf.Bytes()[:buf.Len()/2]), newStore(t), Options{})
	if !errdefs.IsInvalidArgument(err) && !errdefs.IsDataLoss(err) {
		t.Fatalf("truncated archive: %v", err)
	}
}

func TestLoadHugeMetadataRefused(t *testing.T) {
	big := bytes.Repeat([]byte(" "), MaxMetadataSize+1)
	_, err := Load(context.Background(), bytes.NewReader(mkTar(member{name: "manifest.json", body: big})), newStore(t), Options{})
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("huge manifest.json: %v", err)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return b
}
