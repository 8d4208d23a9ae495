package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newStore(t *testing.T) (*Store, *content.Local, *metadata.DB) {
	t.Helper()
	root := t.TempDir()
	cs, err := content.NewLocal(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	db := metadata.Open(root)
	s, err := New(root, db, cs)
	if err != nil {
		t.Fatal(err)
	}
	return s, cs, db
}

func tarOf(t *testing.T, files map[string]string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)})
		tw.Write([]byte(c))
	}
	tw.Close()
	return b.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

type refs []digest.Digest

func (r refs) LayerRefs(tx *metadata.Tx, m map[digest.Digest]bool) error {
	for _, c := range r {
		m[c] = true
	}
	return nil
}

func TestCreateChainAndRelease(t *testing.T) {
	ctx := context.Background()
	s, cs, db := newStore(t)
	base := tarOf(t, map[string]string{"a": "1"})
	top := tarOf(t, map[string]string{"b": "22"})
	l1, err := s.Create(ctx, "", bytes.NewReader(base), TarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l1.DiffID != digest.FromBytes(base) || l1.ChainID != l1.DiffID || l1.Blob.Digest != l1.DiffID || l1.Blob.MediaType != ocispec.MediaTypeImageLayer || l1.Size != 1 {
		t.Fatalf("base layer %+v", l1)
	}
	// A gzip layer kept compressed: the blob is the gzip bytes, the diffID the tar's.
	gzTop := gz(top)
	st, err := s.Stage(ctx, bytes.NewReader(gzTop), StageOptions{Store: true, Blob: ocispec.Descriptor{Digest: digest.FromBytes(gzTop)}})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := s.CreateChain(ctx, []ocispec.Descriptor{l1.Blob, st.Blob()}, []digest.Digest{l1.DiffID, digest.FromBytes(top)}, map[digest.Digest]*Staged{st.Blob().Digest: st})
	if err != nil {
		t.Fatal(err)
	}
	l2 := ls[1]
	if l2.DiffID != digest.FromBytes(top) || l2.Blob.Digest != digest.FromBytes(gzTop) || l2.Blob.MediaType != ocispec.MediaTypeImageLayerGzip || l2.Parent != l1.ChainID {
		t.Fatalf("top layer %+v", l2)
	}
	if want := ChainIDs([]digest.Digest{l1.DiffID, l2.DiffID}); l2.ChainID != want[1] {
		t.Fatalf("chainID %s want %s", l2.ChainID, want[1])
	}
	dirs, err := s.LowerDirs(ctx, l2.ChainID)
	if err != nil || len(dirs) != 2 || dirs[0] != s.DiffDir(l2.ChainID) {
		t.Fatalf("lowerdirs %v %v", dirs, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "b")); string(b) != "22" {
		t.Fatalf("unpacked top: %q", b)
	}
	// Same layers again: existing, their blobs not read at all.
	again, err := s.CreateChain(ctx, []ocispec.Descriptor{{Digest: digest.FromString("absent")}, {Digest: digest.FromString("absent too")}}, []digest.Digest{l1.DiffID, l2.DiffID}, nil)
	if err != nil || again[1].ChainID != l2.ChainID {
		t.Fatalf("existing: %+v %v", again, err)
	}
	// Release with the top referenced keeps both; with nothing, removes both and their blobs.
	var removed []Layer
	err = db.Update(ctx, func(tx *metadata.Tx) error {
		removed, err = s.Release(ctx, tx, []Users{refs{l2.ChainID}})
		return err
	})
	if err != nil || len(removed) != 0 {
		t.Fatalf("release with refs: %v %v", removed, err)
	}
	err = db.Update(ctx, func(tx *metadata.Tx) error {
		removed, err = s.Release(ctx, tx, nil)
		return err
	})
	if err != nil || len(removed) != 2 || removed[0].ChainID != l2.ChainID {
		t.Fatalf("release: %v %v", removed, err)
	}
	// Records are gone; files wait in the trash until EmptyTrash.
	if _, err := os.Stat(s.Dir(l1.ChainID)); err != nil {
		t.Fatalf("layer dir removed before EmptyTrash: %v", err)
	}
	if err := s.EmptyTrash(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir(l1.ChainID)); !os.IsNotExist(err) {
		t.Fatalf("layer dir left: %v", err)
	}
	n := 0
	cs.Walk(ctx, func(content.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs left", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
}

func TestCreateErrors(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newStore(t)
	lt := tarOf(t, map[string]string{"a": "1"})
	if _, err := s.Stage(ctx, bytes.NewReader(lt), StageOptions{Store: true, DiffID: digest.FromString("other")}); !errdefs.IsDataLoss(err) {
		t.Fatalf("diffID mismatch: %v", err)
	}
	if _, err := s.Stage(ctx, bytes.NewReader(lt), StageOptions{Store: true, Blob: ocispec.Descriptor{Digest: digest.FromString("other")}}); !errdefs.IsDataLoss(err) {
		t.Fatalf("digest mismatch: %v", err)
	}
	if _, err := s.Create(ctx, digest.FromString("nope"), bytes.NewReader(lt), TarOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("missing parent: %v", err)
	}
	if l, _ := s.List(ctx); len(l) != 0 {
		t.Fatalf("records after failures: %v", l)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
}

func TestCreateChainFromStoredBlobAndStaleDir(t *testing.T) {
	ctx := context.Background()
	s, cs, _ := newStore(t)
	lt := tarOf(t, map[string]string{"x": "y"})
	g := gz(lt)
	info, err := content.WriteBlob(ctx, cs, bytes.NewReader(g), int64(len(g)), digest.FromBytes(g))
	if err != nil {
		t.Fatal(err)
	}
	// A directory without a record (a crash between rename and record) is replaced.
	stale := s.Dir(digest.FromBytes(lt))
	os.MkdirAll(filepath.Join(stale, "diff", "junk"), 0o755)
	desc := ocispec.Descriptor{MediaType: mediatype.DockerLayerGzip, Digest: info.Digest, Size: info.Size}
	ls, err := s.CreateChain(ctx, []ocispec.Descriptor{desc}, []digest.Digest{digest.FromBytes(lt)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := ls[0]
	if l.Blob.Digest != desc.Digest || l.Blob.MediaType != desc.MediaType || l.Blob.Size != desc.Size {
		t.Fatalf("blob %+v want %+v", l.Blob, desc)
	}
	if _, err := os.Stat(filepath.Join(s.DiffDir(l.ChainID), "junk")); !os.IsNotExist(err) {
		t.Fatal("stale directory content survived")
	}
	if _, err := s.StageBlob(ctx, desc, digest.FromString("wrong")); !errdefs.IsDataLoss(err) {
		t.Fatalf("wrong diffID: %v", err)
	}
}

func TestConcurrentCreateSameLayer(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newStore(t)
	lt := tarOf(t, map[string]string{"same": "content"})
	var wg sync.WaitGroup
	res := make([]Layer, 6)
	errs := make([]error, 6)
	for i := range 6 {
		wg.Go(func() { res[i], errs[i] = s.Create(ctx, "", bytes.NewReader(lt), TarOptions{}) })
	}
	wg.Wait()
	for i := range 6 {
		if errs[i] != nil || res[i].ChainID != res[0].ChainID {
			t.Fatalf("create %d: %+v %v", i, res[i], errs[i])
		}
	}
	if l, _ := s.List(ctx); len(l) != 1 {
		t.Fatalf("%d records", len(l))
	}
	if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
}

func TestCleanupKeepsLiveProcesses(t *testing.T) {
	s, _, _ := newStore(t)
	tmp := filepath.Join(s.dir, "tmp")
	live := filepath.Join(tmp, "1-live")        // pid 1 is alive
	mine := filepath.Join(tmp, "0-x")           // invalid pid: dead
	dead := filepath.Join(tmp, "999999999-abc") // no such pid
	del := filepath.Join(tmp, "del-abc")
	for _, d := range []string{live, mine, dead, del} {
		os.MkdirAll(d, 0o755)
	}
	if n := s.Cleanup(); n != 3 {
		t.Fatalf("cleanup removed %d, want 3", n)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatal("removed a live process's dir")
	}
}

func TestTrashClaimedByRecreate(t *testing.T) {
	ctx := context.Background()
	s, cs, db := newStore(t)
	lt := tarOf(t, map[string]string{"k": "v"})
	l, err := s.Create(ctx, "", bytes.NewReader(lt), TarOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Deleted (first transaction) but the files not yet removed, as after a
	// crash between the two transactions.
	if err := db.Update(ctx, func(tx *metadata.Tx) error { _, err := s.Release(ctx, tx, nil); return err }); err != nil {
		t.Fatal(err)
	}
	// The same layer created again claims its directory and blob back.
	l2, err := s.Create(ctx, "", bytes.NewReader(lt), TarOptions{})
	if err != nil || l2.ChainID != l.ChainID {
		t.Fatalf("recreate: %v", err)
	}
	if err := s.EmptyTrash(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.DiffDir(l.ChainID), "k")); err != nil {
		t.Fatalf("recreated layer's dir removed: %v", err)
	}
	if _, err := cs.Info(ctx, l.Blob.Digest); err != nil {
		t.Fatalf("recreated layer's blob removed: %v", err)
	}
	var trashed []string
	db.View(ctx, func(tx *metadata.Tx) error { trashed = metadata.Trashed(tx); return nil })
	if len(trashed) != 0 {
		t.Fatalf("trash not empty: %v", trashed)
	}
}

func TestCreateChainFromStoredBlobs(t *testing.T) {
	ctx := context.Background()
	s, cs, _ := newStore(t)
	var blobs []ocispec.Descriptor
	var diffIDs []digest.Digest
	for i, f := range []string{"one", "two", "three"} {
		lt := tarOf(t, map[string]string{f: f})
		b := lt
		mt := ocispec.MediaTypeImageLayer
		if i == 1 {
			b, mt = gz(lt), ocispec.MediaTypeImageLayerGzip
		}
		info, err := content.WriteBlob(ctx, cs, bytes.NewReader(b), int64(len(b)), digest.FromBytes(b))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, ocispec.Descriptor{MediaType: mt, Digest: info.Digest, Size: info.Size})
		diffIDs = append(diffIDs, digest.FromBytes(lt))
	}
	// The base exists already.
	if _, err := s.CreateChain(ctx, blobs[:1], diffIDs[:1], nil); err != nil {
		t.Fatal(err)
	}
	// A wrong diffID fails the whole chain and records nothing new.
	bad := append([]digest.Digest{}, diffIDs...)
	bad[2] = digest.FromString("wrong")
	if _, err := s.CreateChain(ctx, blobs, bad, nil); !errdefs.IsDataLoss(err) {
		t.Fatalf("bad diffID: %v", err)
	}
	if l, _ := s.List(ctx); len(l) != 1 {
		t.Fatalf("%d records after failure", len(l))
	}
	ls, err := s.CreateChain(ctx, blobs, diffIDs, nil)
	if err != nil {
		t.Fatal(err)
	}
	chain := ChainIDs(diffIDs)
	for i, l := range ls {
		if l.ChainID != chain[i] || l.Blob.Digest != blobs[i].Digest || (i > 0 && l.Parent != chain[i-1]) {
			t.Fatalf("layer %d: %+v", i, l)
		}
		if _, err := os.Stat(filepath.Join(s.DiffDir(l.ChainID), []string{"one", "two", "three"}[i])); err != nil {
			t.Fatalf("layer %d content: %v", i, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
}

// TestStageThenCreateChain: layers unpacked ahead of their records, their
// blobs stored by the caller (load), are recorded by CreateChain after a
// diffID check, whatever their compression; a wrong diffID or a blob that
// is no layer leaves nothing.
func TestStageThenCreateChain(t *testing.T) {
	ctx := context.Background()
	s, cs, _ := newStore(t)
	tmpEmpty := func() {
		t.Helper()
		if ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(ents) != 0 {
			t.Fatalf("layers/tmp not empty: %v", ents)
		}
	}
	base := tarOf(t, map[string]string{"one": "1"})
	top := tarOf(t, map[string]string{"two": "22"})
	gzTop := gz(top)
	var blobs []ocispec.Descriptor
	prepared := map[digest.Digest]*Staged{}
	for _, b := range [][]byte{base, gzTop} {
		info, err := content.WriteBlob(ctx, cs, bytes.NewReader(b), int64(len(b)), digest.FromBytes(b))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, ocispec.Descriptor{Digest: info.Digest, Size: info.Size})
		p, err := s.Stage(ctx, bytes.NewReader(b), StageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		prepared[info.Digest] = p
	}
	diffIDs := []digest.Digest{digest.FromBytes(base), digest.FromBytes(top)}

	// A wrong diffID: an error, the prepared layer is gone, no record.
	bad := []digest.Digest{diffIDs[0], digest.FromString("wrong")}
	if _, err := s.CreateChain(ctx, blobs, bad, prepared); !errdefs.IsDataLoss(err) {
		t.Fatalf("wrong diffID: %v", err)
	}
	if l, _ := s.List(ctx); len(l) != 0 {
		t.Fatalf("%d records after a failed chain", len(l))
	}
	tmpEmpty()

	for d := range prepared {
		b := base
		if d == blobs[1].Digest {
			b = gzTop
		}
		p, err := s.Stage(ctx, bytes.NewReader(b), StageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		prepared[d] = p
	}
	ls, err := s.CreateChain(ctx, blobs, diffIDs, prepared)
	if err != nil {
		t.Fatal(err)
	}
	chain := ChainIDs(diffIDs)
	for i, want := range []string{"one", "two"} {
		l := ls[i]
		if l.ChainID != chain[i] || l.DiffID != diffIDs[i] || l.Blob.Digest != blobs[i].Digest {
			t.Fatalf("layer %d: %+v", i, l)
		}
		if _, err := os.Stat(filepath.Join(s.DiffDir(l.ChainID), want)); err != nil {
			t.Fatalf("layer %d content: %v", i, err)
		}
	}
	if ls[0].Blob.MediaType != ocispec.MediaTypeImageLayer || ls[1].Blob.MediaType != ocispec.MediaTypeImageLayerGzip || ls[1].Size != 2 {
		t.Fatalf("records: %+v", ls)
	}
	for _, p := range prepared {
		if p.tmp != "" {
			t.Fatalf("prepared layer not consumed: %s", p.tmp)
		}
		p.Discard() // a no-op now
	}
	tmpEmpty()

	// Not a layer: an error and nothing left; Discard of a prepared but
	// unused layer removes it.
	if _, err := s.Stage(ctx, bytes.NewReader(bytes.Repeat([]byte("{json}"), 200)), StageOptions{}); err == nil {
		t.Fatal("prepared a blob that is no tar")
	}
	tmpEmpty()
	p, err := s.Stage(ctx, bytes.NewReader(base), StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Discard()
	tmpEmpty()
}
