package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/hoistproject/hoist/internal/registry/server/storage/s3test"
	"github.com/opencontainers/go-digest"
)

// s3Replicas starts versitygw and n registries on one bucket, configured
// the way an operator does: storage.s3 in the config file, the secret in
// HOIST_REGISTRY_S3_SECRETKEY.
func s3Replicas(t *testing.T, n int) (*s3test.Server, string, []*testRegistry) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	s3cfg := srv.Config(bucket)
	delete(s3cfg, "secretkey")
	s3cfg["rootdirectory"] = "/registry"
	b, _ := json.Marshal(map[string]any{"storage": map[string]any{"s3": s3cfg}})
	file := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(file, b, 0o600)
	var regs []*testRegistry
	for range n {
		cfg := DefaultConfig()
		if err := cfg.LoadConfigFile(file); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"HOIST_REGISTRY_S3_SECRETKEY": srv.SecretKey}
		if err := cfg.ApplyEnv(func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		st, err := cfg.OpenStore(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(New(st))
		t.Cleanup(hs.Close)
		regs = append(regs, &testRegistry{t: t, srv: hs, store: st})
	}
	return srv, bucket, regs
}

// TestS3ReplicasShareEverything: two replicas on one bucket: a chunked
// upload started on one is continued and completed on the other; a push
// to one pulls from the other (manifest by tag, blobs, tag list, catalog).
func TestS3ReplicasShareEverything(t *testing.T) {
	_, _, regs := s3Replicas(t, 2)
	a, b := regs[0], regs[1]
	data := make([]byte, 11<<20)
	rand.Read(data)
	d := digest.FromBytes(data)
	resp := a.do("POST", "/v2/big/blobs/uploads/", nil)
	a.expect(resp, http.StatusAccepted, "")
	loc := resp.Header.Get("Location")
	half := 6<<20 + 3
	resp = a.do("PATCH", loc, data[:half], "Content-Type", "application/octet-stream", "Content-Range", fmt.Sprintf("0-%d", half-1))
	a.expect(resp, http.StatusAccepted, "")
	loc = resp.Header.Get("Location")
	// The rest on the other replica.
	bloc := strings.Replace(loc, a.srv.URL, b.srv.URL, 1)
	if !strings.HasPrefix(loc, "http") {
		bloc = b.srv.URL + loc
	}
	resp = b.do("GET", bloc, nil)
	b.expect(resp, http.StatusNoContent, "")
	if r := resp.Header.Get("Range"); r != fmt.Sprintf("0-%d", half-1) {
		t.Fatalf("replica b sees range %q", r)
	}
	resp = b.do("PATCH", bloc, data[half:], "Content-Type", "application/octet-stream", "Content-Range", fmt.Sprintf("%d-%d", half, len(data)-1))
	b.expect(resp, http.StatusAccepted, "")
	loc = resp.Header.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	b.expect(b.do("PUT", loc+sep+"digest="+d.String(), nil), http.StatusCreated, "")
	got := a.expect(a.do("GET", "/v2/big/blobs/"+d.String(), nil), http.StatusOK, "")
	if !bytes.Equal(got, data) {
		t.Fatal("blob read from replica a differs")
	}

	im := a.image("app", "pushed on a", true)
	a.expect(a.putManifest("app", "v1", ociManifest, im.manifest), http.StatusCreated, "")
	if m := b.expect(b.do("GET", "/v2/app/manifests/v1", nil, "Accept", ociManifest), http.StatusOK, ""); !bytes.Equal(m, im.manifest) {
		t.Fatalf("manifest from b: %s", m)
	}
	if l := b.expect(b.do("GET", "/v2/app/blobs/"+im.layerD.String(), nil), http.StatusOK, ""); !bytes.Equal(l, im.layer) {
		t.Fatal("layer from b differs")
	}
	if tags := b.expect(b.do("GET", "/v2/app/tags/list", nil), http.StatusOK, ""); !strings.Contains(string(tags), `"v1"`) {
		t.Fatalf("tags from b: %s", tags)
	}
	if cat := b.expect(b.do("GET", "/v2/_catalog", nil), http.StatusOK, ""); !strings.Contains(string(cat), `"app"`) || !strings.Contains(string(cat), `"big"`) {
		t.Fatalf("catalog from b: %s", cat)
	}
	// A tag moved on b is seen by a (no stale cache).
	im2 := b.image("app", "pushed on b", true)
	b.expect(b.putManifest("app", "v1", ociManifest, im2.manifest), http.StatusCreated, "")
	if m := a.expect(a.do("GET", "/v2/app/manifests/v1", nil, "Accept", ociManifest), http.StatusOK, ""); !bytes.Equal(m, im2.manifest) {
		t.Fatalf("moved tag from a: %s", m)
	}
}

// TestS3GCWhilePushingOnOtherReplica: GC runs on one replica while 20
// pushes run on the other; every pushed image then pulls, and the old
// orphan was collected.
func TestS3GCWhilePushingOnOtherReplica(t *testing.T) {
	srv, bucket, regs := s3Replicas(t, 2)
	a, b := regs[0], regs[1]
	orphan := a.pushBlob("old", []byte("old garbage"))
	if err := srv.Age(bucket, "", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	runs := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := b.store.GC(ctx, storage.GCOptions{Grace: time.Minute, DeleteUntagged: true}); err != nil {
				t.Error(err)
				return
			}
			runs++
		}
	}()
	var ims []testImage
	for i := range 20 {
		im := a.image(fmt.Sprintf("p%d", i%4), fmt.Sprintf("image %d", i), true)
		a.expect(a.putManifest(fmt.Sprintf("p%d", i%4), fmt.Sprintf("t%d", i), ociManifest, im.manifest), http.StatusCreated, "")
		ims = append(ims, im)
	}
	close(stop)
	wg.Wait()
	if runs == 0 {
		t.Fatal("GC never ran")
	}
	for i, im := range ims {
		repo := fmt.Sprintf("p%d", i%4)
		if m := b.expect(b.do("GET", fmt.Sprintf("/v2/%s/manifests/t%d", repo, i), nil, "Accept", ociManifest), http.StatusOK, ""); !bytes.Equal(m, im.manifest) {
			t.Fatalf("image %d manifest", i)
		}
		for _, d := range []digest.Digest{im.configD, im.layerD} {
			body := b.expect(b.do("GET", "/v2/"+repo+"/blobs/"+d.String(), nil), http.StatusOK, "")
			if digest.FromBytes(body) != d {
				t.Fatalf("image %d blob %s corrupt", i, d)
			}
		}
	}
	if _, err := b.store.GC(ctx, storage.GCOptions{Grace: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if b.store.BlobExists(ctx, orphan) {
		t.Fatal("old orphan survived")
	}
}

// TestServeS3BadBucket: serve refuses to start on a missing bucket or
// wrong credentials, naming bucket and endpoint; the binary exits 1 with
// that message.
func TestServeS3BadBucket(t *testing.T) {
	srv := s3test.Start(t)
	cases := []struct{ bucket, secret, want string }{
		{"no-such-bucket", srv.SecretKey, "the bucket does not exist"},
		{srv.Bucket(t), "wrong", "access denied"},
	}
	bin := hoistBinary(t)
	for _, tc := range cases {
		cmd := exec.Command(bin, "registry", "serve", "--root", t.TempDir(), "--addr", freeAddr(t), "--s3-bucket", tc.bucket,
			"--s3-regionendpoint", srv.Endpoint, "--s3-forcepathstyle", "--s3-accesskey", srv.AccessKey, "--s3-secretkey", tc.secret)
		out, err := cmd.CombinedOutput()
		want := fmt.Sprintf("Error: s3 bucket %q at %s: %s", tc.bucket, srv.Endpoint, tc.want)
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), want) {
			t.Fatalf("hoist registry serve on bucket %s: %v, want exit 1 and %q:\n%s", tc.bucket, err, want, out)
		}
	}
	for _, tc := range cases {
		cfg := DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.Storage.S3 = &storage.S3Config{Bucket: tc.bucket, RegionEndpoint: srv.Endpoint, ForcePathStyle: true, AccessKey: srv.AccessKey, SecretKey: tc.secret}
		err := Run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), `"`+tc.bucket+`"`) || !strings.Contains(err.Error(), srv.Endpoint) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("bucket %s: %v", tc.bucket, err)
		}
	}
}

// TestS3Redirect: with --s3-redirect a blob GET is a 307 to a presigned URL
// of the object on the S3 endpoint, which serves the blob's bytes; hoist
// pull follows it. Manifests and HEADs are still answered by the registry.
func TestS3Redirect(t *testing.T) {
	bin := hoistBinary(t)
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	addr := freeAddr(t)
	startHoist(t, bin, t.TempDir(), addr, "--s3-bucket", bucket, "--s3-regionendpoint", srv.Endpoint, "--s3-forcepathstyle",
		"--s3-accesskey", srv.AccessKey, "--s3-secretkey", srv.SecretKey, "--s3-rootdirectory", "/reg", "--s3-redirect")
	base := "http://" + addr
	im := newRealImage(t, "redirected")
	im.push(t, base, "red/img", "v1")

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/v2/red/img/blobs/" + im.layerD.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, srv.Endpoint+"/"+bucket+"/reg/blobs/sha256/") || !strings.Contains(loc, "X-Amz-Signature=") {
		t.Fatalf("blob GET: %d Location %q", resp.StatusCode, loc)
	}
	code, _, body := httpDo(t, "GET", loc, nil)
	if code != http.StatusOK || !bytes.Equal(body, im.layer) {
		t.Fatalf("presigned URL: %d, %d bytes", code, len(body))
	}
	code, h, _ := httpDo(t, "HEAD", base+"/v2/red/img/blobs/"+im.layerD.String(), nil)
	if code != http.StatusOK || h.Get("Content-Length") != fmt.Sprint(len(im.layer)) {
		t.Fatalf("HEAD: %d %v", code, h)
	}
	code, _, body = httpDo(t, "GET", base+"/v2/red/img/blobs/"+digest.FromString("absent").String(), nil)
	if code != http.StatusNotFound {
		t.Fatalf("missing blob: %d %s", code, body)
	}
	if out, err := hoistPull(t, bin, addr+"/red/img:v1"); err != nil {
		t.Fatalf("hoist pull through redirects: %v\n%s", err, out)
	}
}

// TestS3BlobGetRanges: a 21 MB blob on S3 is served byte for byte:
// whole, from an offset to the end, a range across 8 MiB boundaries, a
// small range, a suffix, several ranges (multipart/byteranges), and
// If-Range; HEAD and GET carry the blob headers; the body is copied by
// bigCopy.
func TestS3BlobGetRanges(t *testing.T) {
	_, _, regs := s3Replicas(t, 1)
	r := regs[0]
	data := make([]byte, 2*(8<<20)+(5<<20)+4097) // three parts and a bit
	rand.Read(data)
	d := r.pushBlob("big", data)
	path := "/v2/big/blobs/" + d.String()
	resp := r.do("GET", path, nil)
	if got := r.expect(resp, http.StatusOK, ""); !bytes.Equal(got, data) {
		t.Fatalf("GET: %d bytes differ", len(got))
	}
	for _, hd := range []http.Header{resp.Header, r.do("HEAD", path, nil).Header} {
		if hd.Get("Docker-Content-Digest") != d.String() || hd.Get("ETag") != `"`+d.String()+`"` || hd.Get("Accept-Ranges") != "bytes" ||
			hd.Get("Content-Length") != fmt.Sprint(len(data)) {
			t.Fatalf("headers %v", hd)
		}
	}
	n := len(data)
	for _, tc := range []struct {
		rng        string
		start, end int // end exclusive
	}{
		{"bytes=12345-", 12345, n},
		{fmt.Sprintf("bytes=%d-%d", 8<<20-3, 2*(8<<20)+2), 8<<20 - 3, 2*(8<<20) + 3},
		{"bytes=100-199", 100, 200},
		{"bytes=-4097", n - 4097, n},
	} {
		resp := r.do("GET", path, nil, "Range", tc.rng)
		got := r.expect(resp, http.StatusPartialContent, "")
		if !bytes.Equal(got, data[tc.start:tc.end]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end-1, n) {
			t.Fatalf("Range %s: %d bytes, Content-Range %q", tc.rng, len(got), resp.Header.Get("Content-Range"))
		}
	}
	resp = r.do("GET", path, nil, "Range", "bytes=0-9,9000000-9000009")
	got := r.expect(resp, http.StatusPartialContent, "")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") ||
		!bytes.Contains(got, data[:10]) || !bytes.Contains(got, data[9000000:9000010]) {
		t.Fatalf("two ranges: %s, %d bytes", resp.Header.Get("Content-Type"), len(got))
	}
	// If-Range with another ETag: the whole blob.
	resp = r.do("GET", path, nil, "Range", "bytes=5-", "If-Range", `"sha256:other"`)
	if got := r.expect(resp, http.StatusOK, ""); !bytes.Equal(got, data) {
		t.Fatalf("If-Range: %d bytes", len(got))
	}
	// The body is copied by bigCopy (1 MiB pieces), not handed to the
	// connection's ReadFrom (32 KiB pieces when it is not a file).
	rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	New(r.store).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), data) || len(rec.srcs) != 0 {
		t.Fatalf("GET through a ReaderFrom: %d, %d bytes, %d ReadFrom calls", rec.Code, rec.Body.Len(), len(rec.srcs))
	}
}
