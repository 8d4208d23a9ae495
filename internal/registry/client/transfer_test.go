package client

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

type testImage struct {
	index  ocispec.Descriptor
	amd64  ocispec.Descriptor
	arm64  ocispec.Descriptor
	layers []ocispec.Descriptor // amd64's
}

// buildImage writes a two-platform image into st.
func buildImage(t *testing.T, st content.Store) testImage {
	t.Helper()
	put := func(mt string, b []byte) ocispec.Descriptor {
		d, err := content.WriteBlob(ctx, st, bytes.NewReader(b), int64(len(b)), digest.FromBytes(b))
		if err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{MediaType: mt, Digest: d.Digest, Size: d.Size}
	}
	var img testImage
	shared := put(ocispec.MediaTypeImageLayerGzip, randBytes(3000))
	img.layers = []ocispec.Descriptor{shared, put(ocispec.MediaTypeImageLayerGzip, randBytes(5000))}
	manifest := func(arch string, layers []ocispec.Descriptor) ocispec.Descriptor {
		cfg := put(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"`+arch+`","os":"linux"}`))
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers}
		m.SchemaVersion = 2
		b, _ := json.Marshal(m)
		return put(ocispec.MediaTypeImageManifest, b)
	}
	img.amd64 = manifest("amd64", img.layers)
	img.arm64 = manifest("arm64", []ocispec.Descriptor{shared, put(ocispec.MediaTypeImageLayerGzip, randBytes(100))})
	a, r := img.amd64, img.arm64
	a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	r.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{a, r}}
	idx.SchemaVersion = 2
	b, _ := json.Marshal(idx)
	img.index = put(ocispec.MediaTypeImageIndex, b)
	return img
}

type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) { l.mu.Lock(); l.ev = append(l.ev, e); l.mu.Unlock() }

// statuses lists each blob's distinct statuses in order.
func (l *eventLog) statuses(d digest.Digest) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.ev {
		if e.Digest == d && (len(out) == 0 || out[len(out)-1] != e.Status) {
			out = append(out, e.Status)
		}
	}
	return strings.Join(out, ",")
}

func newLocal(t *testing.T) *content.Local {
	st, err := content.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPushPullRoundTrip(t *testing.T) {
	f := newFakeReg(t)
	f.authMode, f.user, f.pass = "bearer", "u", "p"
	c := f.client(auth.Credentials{Username: "u", Password: "p"})
	src := newLocal(t)
	img := buildImage(t, src)

	var pushEv eventLog
	got, err := Push(ctx, src, f.repo(c, "team/app"), img.index, "v1", PushOptions{Progress: pushEv.add})
	if err != nil || got.Digest != img.index.Digest {
		t.Fatalf("Push = %+v %v", got, err)
	}
	for _, l := range img.layers {
		if s := pushEv.statuses(l.Digest); s != "Preparing,Pushing,Pushed" {
			t.Fatalf("push events of %s: %s", ShortID(l.Digest), s)
		}
	}
	// pushing again: everything exists
	var again eventLog
	if _, err := Push(ctx, src, f.repo(c, "team/app"), img.index, "v1", PushOptions{Progress: again.add}); err != nil {
		t.Fatal(err)
	}
	if s := again.statuses(img.layers[1].Digest); s != "Preparing,Layer already exists" {
		t.Fatalf("second push: %s", s)
	}
	// another repository of the same registry: mounted
	var mnt eventLog
	mountFrom := func(digest.Digest) []string { return []string{"team/app"} }
	if _, err := Push(ctx, src, f.repo(c, "team/copy"), img.amd64, "latest", PushOptions{Progress: mnt.add, MountFrom: mountFrom}); err != nil {
		t.Fatal(err)
	}
	if s := mnt.statuses(img.layers[1].Digest); s != "Preparing,Mounted from team/app" {
		t.Fatalf("mount push: %s", s)
	}

	// pull linux/arm64 and linux/amd64 into a fresh store
	dst := newLocal(t)
	var pullEv eventLog
	var doneMu sync.Mutex
	var done []string
	arm, _ := ParsePlatform("linux/arm64")
	res, err := Pull(ctx, []*Repository{f.repo(c, "team/app")}, "v1", dst, PullOptions{Platform: &arm, Progress: pullEv.add,
		LayerDone: func(_ context.Context, l ocispec.Descriptor) error {
			doneMu.Lock()
			done = append(done, l.Digest.String())
			doneMu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Index == nil || res.Index.Digest != img.index.Digest || res.Manifest.Digest != img.arm64.Digest || len(res.Layers) != 2 || len(done) != 2 {
		t.Fatalf("Pull = %+v (done %v)", res, done)
	}
	if s := pullEv.statuses(res.Layers[1].Digest); s != "Pulling fs layer,Downloading,Verifying Checksum,Download complete" {
		t.Fatalf("pull events: %s", s)
	}
	for _, d := range []digest.Digest{img.index.Digest, img.arm64.Digest, res.Config.Digest, res.Layers[0].Digest, res.Layers[1].Digest} {
		if ok, _ := content.Exists(ctx, dst, d); !ok {
			t.Fatalf("%s not pulled", d)
		}
	}
	// the stored index is byte-identical (same digest as pushed)
	var pullEv2 eventLog
	amd, _ := ParsePlatform("linux/amd64")
	f.cutBlobAt, f.cutsLeft = 1000, 2 // and the network is flaky
	res, err = Pull(ctx, []*Repository{f.repo(c, "team/app")}, img.index.Digest.String(), dst, PullOptions{Platform: &amd, Progress: pullEv2.add})
	if err != nil || res.Manifest.Digest != img.amd64.Digest {
		t.Fatalf("Pull by digest: %+v %v", res, err)
	}
	if s := pullEv2.statuses(img.layers[0].Digest); s != "Already exists" {
		t.Fatalf("shared layer: %s", s)
	}
	s390, _ := ParsePlatform("linux/s390x")
	if _, err := Pull(ctx, []*Repository{f.repo(c, "team/app")}, "v1", newLocal(t), PullOptions{Platform: &s390}); !errdefs.IsNotFound(err) ||
		!strings.Contains(err.Error(), "no matching manifest for linux/s390x") || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
		t.Fatalf("no platform: %v", err)
	}
}

func TestPullCorruptLayerCommitsNothing(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	src := newLocal(t)
	img := buildImage(t, src)
	if _, err := Push(ctx, src, f.repo(c, "app"), img.amd64, "v1", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	f.corrupt = true
	root := t.TempDir()
	dst, _ := content.NewLocal(root)
	_, err := Pull(ctx, []*Repository{f.repo(c, "app")}, "v1", dst, PullOptions{})
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("corrupt pull: %v", err)
	}
	var blobs []string
	dst.Walk(ctx, func(i content.Info) error { blobs = append(blobs, i.Digest.String()); return nil })
	for _, l := range img.layers {
		for _, b := range blobs {
			if b == l.Digest.String() {
				t.Fatalf("corrupt layer %s committed", l.Digest)
			}
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "ingest")); len(ents) != 0 {
		t.Fatalf("ingest leftovers: %v", ents)
	}
}

func TestPullFallsBackFromMirror(t *testing.T) {
	f := newFakeReg(t)
	c := f.client(auth.Credentials{})
	src := newLocal(t)
	img := buildImage(t, src)
	if _, err := Push(ctx, src, f.repo(c, "library/app"), img.amd64, "latest", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	empty := newFakeReg(t) // a mirror without the image
	res, err := Pull(ctx, []*Repository{empty.repo(c, "library/app"), f.repo(c, "library/app")}, "latest", newLocal(t), PullOptions{})
	if err != nil || res.Repository.Registry() != f.host() {
		t.Fatalf("fallback: %v", err)
	}
}
