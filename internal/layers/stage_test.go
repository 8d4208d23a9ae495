package layers

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestStageThenRecordInOrder: two layers staged (the upper one first, as
// parallel downloads may finish), their blobs stored in the same pass,
// then recorded bottom first (pull); a wrong digest stores nothing.
func TestStageThenRecordInOrder(t *testing.T) {
	ctx := context.Background()
	s, cs, _ := newStore(t)
	lower, upper := tarOf(t, map[string]string{"a": "lower"}), tarOf(t, map[string]string{"b": "upper"})
	lgz, ugz := gz(lower), gz(upper)
	desc := func(b []byte) ocispec.Descriptor {
		return ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b)), MediaType: ocispec.MediaTypeImageLayerGzip}
	}
	opts := func(b, tarb []byte) StageOptions {
		return StageOptions{Store: true, Blob: desc(b), DiffID: digest.FromBytes(tarb)}
	}
	pu, err := s.Stage(ctx, bytes.NewReader(ugz), opts(ugz, upper))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := s.Stage(ctx, bytes.NewReader(lgz), opts(lgz, lower))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{lgz, ugz} {
		if ok, _ := content.Exists(ctx, cs, digest.FromBytes(b)); !ok {
			t.Fatalf("blob %s not stored by Stage", digest.FromBytes(b))
		}
	}
	if pu.DiffID() != digest.FromBytes(upper) || pu.Blob().Digest != digest.FromBytes(ugz) {
		t.Fatalf("pending: %s %+v", pu.DiffID(), pu.Blob())
	}
	blobs := []ocispec.Descriptor{desc(lgz), desc(ugz)}
	diffIDs := []digest.Digest{digest.FromBytes(lower), digest.FromBytes(upper)}
	ls, err := s.CreateChain(ctx, blobs[:1], diffIDs[:1], map[digest.Digest]*Staged{blobs[0].Digest: pl})
	if err != nil {
		t.Fatal(err)
	}
	l0 := ls[0]
	ls, err = s.CreateChain(ctx, blobs, diffIDs, map[digest.Digest]*Staged{blobs[1].Digest: pu})
	if err != nil {
		t.Fatal(err)
	}
	l1 := ls[1]
	want := ChainIDs([]digest.Digest{digest.FromBytes(lower), digest.FromBytes(upper)})
	if l0.ChainID != want[0] || l1.ChainID != want[1] || l1.Parent != l0.ChainID || l1.Blob.MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Fatalf("committed %+v %+v", l0, l1)
	}
	if b, err := os.ReadFile(filepath.Join(s.DiffDir(l1.ChainID), "b")); err != nil || string(b) != "upper" {
		t.Fatalf("upper layer content: %q %v", b, err)
	}
	if pl.tmp != "" || pu.tmp != "" {
		t.Fatal("a recorded Staged still holds its directory")
	}

	// a discarded layer leaves nothing in layers/tmp
	other := tarOf(t, map[string]string{"c": "x"})
	po, err := s.Stage(ctx, bytes.NewReader(gz(other)), StageOptions{Store: true})
	if err != nil {
		t.Fatal(err)
	}
	po.Discard()
	po.Discard()
	if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
		t.Fatalf("layers/tmp after Discard: %v", ents)
	}

	// bytes that do not match the expected digest: nothing stored
	bad := gz(tarOf(t, map[string]string{"d": "bad"}))
	_, err = s.Stage(ctx, bytes.NewReader(bad), StageOptions{Store: true, Blob: ocispec.Descriptor{Digest: digest.FromString("something else")}})
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("wrong digest: %v", err)
	}
	if ok, _ := content.Exists(ctx, cs, digest.FromBytes(bad)); ok {
		t.Fatal("a blob with the wrong digest was stored")
	}
	if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
		t.Fatalf("layers/tmp after a failed Stage: %v", ents)
	}
}
