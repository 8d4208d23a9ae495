package imagearchive

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/opencontainers/go-digest"
)

// fuzzArchive is an archive holding one layer and one config under both
// formats' blob paths, plus the fuzzed metadata: manifest.json (docker
// format) or index.json and one more blob (OCI layout: a manifest or index
// the fuzzed index can point at).
func fuzzArchive(meta string, body, blob []byte) []byte {
	layer := []byte("not really a layer")
	cfg := configFor(digest.FromBytes(layer))
	ms := []member{
		{name: "blobs/sha256/" + digest.FromBytes(layer).Encoded(), body: layer},
		{name: "blobs/sha256/" + digest.FromBytes(cfg).Encoded(), body: cfg},
		{name: "layer.tar", body: layer},
		{name: "config.json", body: cfg},
		{name: meta, body: body},
	}
	if blob != nil {
		ms = append(ms, member{name: "blobs/sha256/" + digest.FromBytes(blob).Encoded(), body: blob})
	}
	return mkTar(ms...)
}

// checkLoad loads arch into a fresh store: no panic; on success every
// loaded config and layer is stored; on failure the load removed every
// blob it added (the store is empty again).
func checkLoad(t *testing.T, arch []byte) {
	ctx := context.Background()
	s := newStore(t)
	loaded, err := Load(ctx, bytes.NewReader(arch), s, Options{})
	if err != nil {
		n := 0
		s.Walk(ctx, func(content.Info) error { n++; return nil })
		if n != 0 {
			t.Fatalf("failed load (%v) left %d blobs", err, n)
		}
		return
	}
	for _, l := range loaded {
		for _, d := range append(l.Layers, l.Config) {
			if ok, _ := content.Exists(ctx, s, d.Digest); !ok {
				t.Fatalf("loaded image names blob %s, which is not stored", d.Digest)
			}
		}
	}
}

// FuzzLoadDockerManifest: any manifest.json.
func FuzzLoadDockerManifest(f *testing.F) {
	layer := []byte("not really a layer")
	cfgD := digest.FromBytes(configFor(digest.FromBytes(layer)))
	for _, s := range []string{
		`[{"Config":"config.json","RepoTags":["a:b"],"Layers":["layer.tar"]}]`,
		fmt.Sprintf(`[{"Config":"blobs/sha256/%s","RepoTags":["x/y:z"],"Layers":["blobs/sha256/%s"]}]`, cfgD.Encoded(), digest.FromBytes(layer).Encoded()),
		`[{"Config":"../config.json","Layers":["/layer.tar"]}]`,
		`[{"Config":"config.json","RepoTags":["UPPER"],"Layers":[]}]`,
		`[{"Config":"` + cfgD.Encoded() + `.json","Layers":null}]`,
		`[]`, `{}`, `null`, `[{}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, manifest string) {
		checkLoad(t, fuzzArchive("manifest.json", []byte(manifest), nil))
	})
}

// FuzzLoadOCIIndex: any index.json, and any one manifest or index blob it
// may point at.
func FuzzLoadOCIIndex(f *testing.F) {
	layer := []byte("not really a layer")
	layerD := digest.FromBytes(layer)
	cfg := configFor(layerD)
	cfgD := digest.FromBytes(cfg)
	man := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		cfgD, len(cfg), layerD, len(layer))
	manD := digest.FromString(man)
	for _, s := range [][2]string{
		{fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"annotations":{"io.containerd.image.name":"docker.io/library/a:b"}}]}`, manD, len(man)), man},
		{fmt.Sprintf(`{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":%q,"size":%d}]}`, manD, len(man)), man},
		{`{"manifests":[{"digest":"x"}]}`, man},
		{`{"manifests":[{"digest":"sha256:../../x"}]}`, man},
		{fmt.Sprintf(`{"manifests":[{"digest":%q}]}`, manD), `{"config":{"digest":"nope"},"layers":[{"digest":""}]}`},
		{`{}`, `{}`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, index, blob string) {
		checkLoad(t, fuzzArchive("index.json", []byte(index), []byte(blob)))
	})
}
