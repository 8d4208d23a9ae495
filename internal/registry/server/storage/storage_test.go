package storage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/server/storage/s3test"
	"github.com/opencontainers/go-digest"
)

func TestNames(t *testing.T) {
	for _, n := range []string{"a", "a/b", "library/busybox", "a-b", "a--b", "a.b", "a_b", "a__b", "0/1/2", "conformance/repo1"} {
		if !ValidName(n) {
			t.Errorf("%q rejected", n)
		}
	}
	for _, n := range []string{"", "A", "a/", "/a", "a//b", "-a", "a-", "a..b", "a___b", "a.-b", "_a", "a/_layers", "a b", "..", "a/../b", strings.Repeat("a", 256)} {
		if ValidName(n) {
			t.Errorf("%q accepted", n)
		}
	}
	for _, tag := range []string{"latest", "v1.0", "_x", "A-b.c_d", strings.Repeat("t", 128)} {
		if !ValidTag(tag) {
			t.Errorf("tag %q rejected", tag)
		}
	}
	for _, tag := range []string{"", "-x", ".x", "a/b", "a:b", strings.Repeat("t", 129)} {
		if ValidTag(tag) {
			t.Errorf("tag %q accepted", tag)
		}
	}
}

type fixture struct {
	t  *testing.T
	s  *Store
	sz map[digest.Digest]int
	// the S3 driver's server and bucket (nil on a filesystem)
	srv    *s3test.Server
	bucket string
}

// forEachDriver runs test against a fresh store of every driver: the
// filesystem and S3 (a real versitygw on 127.0.0.1).
func forEachDriver(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Run("fs", func(t *testing.T) {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		test(t, &fixture{t: t, s: s, sz: map[digest.Digest]int{}})
	})
	t.Run("s3", func(t *testing.T) {
		srv := s3test.Start(t)
		f := &fixture{t: t, sz: map[digest.Digest]int{}, srv: srv, bucket: srv.Bucket(t)}
		f.s = f.replica()
		test(t, f)
	})
}

// s3Config is the fixture's S3 configuration.
func (f *fixture) s3Config() S3Config {
	return S3Config{Bucket: f.bucket, RegionEndpoint: f.srv.Endpoint, ForcePathStyle: true,
		AccessKey: f.srv.AccessKey, SecretKey: f.srv.SecretKey, RootDirectory: "/reg", ChunkSize: MinS3ChunkSize}
}

// replica opens another Store on the same storage (another process or
// replica).
func (f *fixture) replica() *Store {
	f.t.Helper()
	if f.srv == nil {
		s, err := Open(f.s.Root())
		if err != nil {
			f.t.Fatal(err)
		}
		return s
	}
	s, err := OpenS3(context.Background(), f.s3Config())
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// ageUpload makes upload session id look idle for d.
func (f *fixture) ageUpload(id string, d time.Duration) {
	if f.srv != nil {
		if err := f.srv.Age(f.bucket, "reg/uploads/"+id, d); err != nil {
			f.t.Fatal(err)
		}
		return
	}
	old := time.Now().Add(-d)
	for _, n := range []string{"data", "state"} {
		os.Chtimes(filepath.Join(f.s.Root(), "uploads", id, n), old, old)
	}
}

func (f *fixture) blob(repo, content string) digest.Digest {
	f.t.Helper()
	info, err := f.s.PutBlob(context.Background(), repo, strings.NewReader(content), int64(len(content)), digest.FromString(content))
	if err != nil {
		f.t.Fatal(err)
	}
	f.sz[info.Digest] = len(content)
	return info.Digest
}

func (f *fixture) image(repo, name string, tags ...string) (digest.Digest, digest.Digest) {
	f.t.Helper()
	cfg := f.blob(repo, `{"config":{},"n":"`+name+`"}`)
	layer := f.blob(repo, "layer "+name)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		cfg, f.sz[cfg], layer, f.sz[layer])
	d := digest.FromString(m)
	ref := d.String()
	if len(tags) > 0 {
		ref, tags = tags[0], tags[1:]
	}
	if _, err := f.s.PutManifest(context.Background(), repo, ref, "", []byte(m), tags, PutOptions{}); err != nil {
		f.t.Fatal(err)
	}
	return d, layer
}

// age makes every blob and manifest link look older than the grace period.
func (f *fixture) age(d time.Duration) {
	if f.srv != nil {
		if err := f.srv.Age(f.bucket, "", d); err != nil {
			f.t.Fatal(err)
		}
		return
	}
	old := time.Now().Add(-d)
	filepath.Walk(f.s.Root(), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}

func (f *fixture) exists(d digest.Digest) bool { return f.s.BlobExists(context.Background(), d) }

func TestGC(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		tagged, taggedLayer := f.image("app", "one", "v1")
		untagged, untaggedLayer := f.image("app", "two")
		orphan := f.blob("app", "never referenced")
		f.age(2 * time.Hour)
		young := f.blob("app", "uploaded just now, manifest not yet pushed")

		// Dry run: reports, deletes nothing.
		rep, err := f.s.GC(ctx, GCOptions{DryRun: true, Grace: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.BlobsDeleted) != 1 || rep.BlobsDeleted[0] != orphan || !f.exists(orphan) {
			t.Fatalf("dry run: %+v", rep)
		}
		// Real run: only the old orphan goes; the young blob is protected.
		rep, err = f.s.GC(ctx, GCOptions{Grace: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.BlobsDeleted) != 1 || f.exists(orphan) || !f.exists(young) || !f.exists(taggedLayer) || !f.exists(untaggedLayer) || rep.BytesFreed != int64(f.sz[orphan]) {
			t.Fatalf("gc: %+v", rep)
		}
		if rep.LinksRemoved != 1 {
			t.Fatalf("links removed: %d", rep.LinksRemoved)
		}
		if _, err := f.s.StatBlob(ctx, "app", orphan); !errdefs.IsNotFound(err) {
			t.Fatalf("orphan still linked: %v", err)
		}
		// Delete untagged: the untagged manifest and its own blobs go.
		rep, err = f.s.GC(ctx, GCOptions{Grace: time.Hour, DeleteUntagged: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.ManifestsDeleted) != 1 || rep.ManifestsDeleted[0] != "app@"+untagged.String() || f.exists(untaggedLayer) || f.exists(untagged) {
			t.Fatalf("delete untagged: %+v", rep)
		}
		if !f.exists(tagged) || !f.exists(taggedLayer) || !f.exists(young) {
			t.Fatal("gc deleted live content")
		}
		if _, err := f.s.GetManifest(ctx, "app", "v1"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGCKeepsIndexChildrenAndReferrers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		child, childLayer := f.image("x", "child")
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":1}]}`, child)
		// (size is checked: use the real one)
		m, _ := f.s.GetManifest(ctx, "x", child.String())
		idx = strings.Replace(idx, `"size":1`, fmt.Sprintf(`"size":%d`, len(m.Body)), 1)
		if _, err := f.s.PutManifest(ctx, "x", "multi", "", []byte(idx), nil, PutOptions{}); err != nil {
			t.Fatal(err)
		}
		empty := f.blob("x", "{}")
		sig := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x-sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d}}`, empty, child, len(m.Body))
		sigD := digest.FromString(sig)
		res, err := f.s.PutManifest(ctx, "x", sigD.String(), "", []byte(sig), nil, PutOptions{})
		if err != nil || res.Subject == nil || res.Subject.Digest != child {
			t.Fatalf("put referrer: %v %+v", err, res)
		}
		f.age(2 * time.Hour)
		rep, err := f.s.GC(ctx, GCOptions{Grace: time.Hour, DeleteUntagged: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.BlobsDeleted) != 0 || len(rep.ManifestsDeleted) != 0 || !f.exists(childLayer) || !f.exists(sigD) {
			t.Fatalf("gc removed reachable content: %+v", rep)
		}
		// Untag the index: everything becomes garbage.
		if err := f.s.DeleteTag(ctx, "x", "multi"); err != nil {
			t.Fatal(err)
		}
		rep, err = f.s.GC(ctx, GCOptions{Grace: time.Hour, DeleteUntagged: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.ManifestsDeleted) != 3 || f.exists(childLayer) || f.exists(sigD) || f.exists(empty) {
			t.Fatalf("after untag: %+v", rep)
		}
	})
}

func TestGCRaceWithManifestPut(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		// A blob that was garbage but is referenced by a new manifest is
		// touched by the PUT and survives the next collection.
		ctx := context.Background()
		cfg := f.blob("r", `{"config":{}}`)
		f.age(2 * time.Hour)
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, cfg, f.sz[cfg])
		// The HEAD a pusher does first refreshes the blob as well.
		f.s.TouchBlob(ctx, cfg, time.Minute)
		rep, err := f.s.GC(ctx, GCOptions{Grace: time.Hour})
		if err != nil || len(rep.BlobsDeleted) != 0 {
			t.Fatalf("touched blob collected: %v %+v", err, rep)
		}
		if _, err := f.s.PutManifest(ctx, "r", "v1", "", []byte(m), nil, PutOptions{}); err != nil {
			t.Fatal(err)
		}
		// If GC wins the race, the PUT fails cleanly with NotFound.
		f.age(2 * time.Hour)
		if err := f.s.DeleteTag(ctx, "r", "v1"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.GC(ctx, GCOptions{Grace: time.Hour, DeleteUntagged: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.PutManifest(ctx, "r", "v2", "", []byte(m), nil, PutOptions{}); !errdefs.IsNotFound(err) {
			t.Fatalf("manifest over a collected blob: %v", err)
		}
	})
}

func TestPurgeUploads(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		u, err := f.s.NewUpload(ctx, "p", "", "t")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Append(ctx, bytes.NewReader([]byte("abc")), 0, 3); err != nil {
			t.Fatal(err)
		}
		fresh, _ := f.s.NewUpload(ctx, "p", "", "t")
		f.ageUpload(u.ID(), 48*time.Hour)
		n, _, err := f.s.PurgeUploads(ctx, 24*time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("purged %d: %v", n, err)
		}
		if _, err := f.s.GetUpload(ctx, "p", u.ID()); !errdefs.IsNotFound(err) {
			t.Fatalf("purged upload still there: %v", err)
		}
		if _, err := f.s.GetUpload(ctx, "p", fresh.ID()); err != nil {
			t.Fatalf("fresh upload purged: %v", err)
		}
	})
}

func TestAppendRangeAndShortChunk(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		u, _ := f.s.NewUpload(ctx, "p", "", "t")
		if _, err := u.Append(ctx, strings.NewReader("abc"), 5, 3); !errdefsIsPrecondition(err) {
			t.Fatalf("out of order: %v", err)
		}
		if _, err := u.Append(ctx, strings.NewReader("abc"), 0, 10); !errdefs.IsDataLoss(err) {
			t.Fatalf("short chunk: %v", err)
		}
		if u.Offset() != 3 {
			t.Fatalf("offset %d", u.Offset())
		}
	})
}

func errdefsIsPrecondition(err error) bool {
	return err != nil && strings.Contains(err.Error(), "chunk starts at")
}

func TestGCWhilePushing(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		orphan := f.blob("old", "old garbage")
		f.age(2 * time.Hour)
		stop := make(chan struct{})
		gcDone := make(chan int)
		go func() {
			runs := 0
			for {
				select {
				case <-stop:
					gcDone <- runs
					return
				default:
				}
				if _, err := f.s.GC(ctx, GCOptions{Grace: time.Hour, DeleteUntagged: true}); err != nil {
					t.Error(err)
				}
				runs++
			}
		}()
		type pushed struct{ m, l digest.Digest }
		results := make(chan []pushed, 4)
		for w := range 4 {
			go func() {
				var out []pushed
				for i := range 15 {
					m, l := f.imageNoFatal(fmt.Sprintf("w%d", w), fmt.Sprintf("%d-%d", w, i), fmt.Sprintf("t%d", i))
					out = append(out, pushed{m, l})
				}
				results <- out
			}()
		}
		var all []pushed
		for range 4 {
			all = append(all, <-results...)
		}
		close(stop)
		if runs := <-gcDone; runs == 0 {
			t.Fatal("GC never ran")
		}
		for _, p := range all {
			if p.m == "" || !f.exists(p.m) || !f.exists(p.l) {
				t.Fatalf("push lost content under concurrent GC: %+v", p)
			}
		}
		if f.exists(orphan) {
			t.Fatal("old orphan survived")
		}
	})
}

// imageNoFatal is image() for goroutines: failures are reported with Error.
func (f *fixture) imageNoFatal(repo, name, tag string) (digest.Digest, digest.Digest) {
	ctx := context.Background()
	put := func(c string) (digest.Digest, int) {
		info, err := f.s.PutBlob(ctx, repo, strings.NewReader(c), int64(len(c)), digest.FromString(c))
		if err != nil {
			f.t.Error(err)
		}
		return info.Digest, len(c)
	}
	cfg, cs := put(`{"config":{},"n":"` + name + `"}`)
	layer, ls := put("layer " + name)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, cfg, cs, layer, ls)
	res, err := f.s.PutManifest(ctx, repo, tag, "", []byte(m), nil, PutOptions{})
	if err != nil {
		f.t.Error(err)
	}
	return res.Digest, layer
}

func TestUploadPurgedByAnotherProcess(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		u, _ := f.s.NewUpload(ctx, "p", "", "t")
		other := f.replica() // a second process on the same storage
		f.ageUpload(u.ID(), 48*time.Hour)
		if n, _, _ := other.PurgeUploads(ctx, time.Hour); n != 1 {
			t.Fatalf("purged %d", n)
		}
		if _, err := f.s.GetUpload(ctx, "p", u.ID()); !errdefs.IsNotFound(err) {
			t.Fatalf("session purged elsewhere still served: %v", err)
		}
	})
}
