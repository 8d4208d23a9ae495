package cache

import (
	"testing"

	"github.com/hoistproject/hoist/internal/images"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestFromImages(t *testing.T) {
	base := digest.FromString("base layer")
	cur := &images.Config{}
	cur.History = []ocispec.History{{CreatedBy: "FROM"}}
	cur.RootFS.DiffIDs = []digest.Digest{base}
	img := &images.Config{}
	img.History = []ocispec.History{{CreatedBy: "FROM"}, {CreatedBy: "ENV A=b", EmptyLayer: true}, {CreatedBy: "RUN x"}}
	next := digest.FromString("run layer")
	img.RootFS.DiffIDs = []digest.Digest{base, next}
	imgs := []*images.Config{img}

	o, ok := FromImages(cur, base, imgs, "ENV A=b", false)
	if !ok || o.DiffID != "" || o.ChainID != base || o.History.CreatedBy != "ENV A=b" {
		t.Errorf("empty-layer step: %+v %v", o, ok)
	}
	if _, ok := FromImages(cur, base, imgs, "ENV A=c", false); ok {
		t.Error("another instruction matched")
	}
	cur.History = append(cur.History, img.History[1])
	o, ok = FromImages(cur, base, imgs, "RUN x", true)
	if !ok || o.DiffID != next || o.ChainID != digest.FromString(base.String()+" "+next.String()) {
		t.Errorf("layer step: %+v %v", o, ok)
	}
	if _, ok := FromImages(cur, base, imgs, "RUN x", false); ok {
		t.Error("a layer matched a step that makes none")
	}
	cur.RootFS.DiffIDs = []digest.Digest{digest.FromString("other base")}
	if _, ok := FromImages(cur, base, imgs, "RUN x", true); ok {
		t.Error("matched on other layers")
	}
}
