package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
)

func TestBase(t *testing.T) {
	r := newTestRegistry(t)
	resp := r.do("GET", "/v2/", nil)
	r.expect(resp, http.StatusOK, "")
	if resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("API version header: %q", resp.Header.Get("Docker-Distribution-API-Version"))
	}
	r.expect(r.do("GET", "/v2/nope/x/y", nil), http.StatusNotFound, "")
	r.expect(r.do("GET", "/healthz", nil), http.StatusOK, "")
}

func TestBlobMonolithicRangeDelete(t *testing.T) {
	r := newTestRegistry(t)
	data := []byte("0123456789abcdef")
	d := r.pushBlob("a/b", data)

	resp := r.do("HEAD", "/v2/a/b/blobs/"+d.String(), nil)
	r.expect(resp, http.StatusOK, "")
	if resp.ContentLength != int64(len(data)) || resp.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("HEAD: length %d digest %q", resp.ContentLength, resp.Header.Get("Docker-Content-Digest"))
	}
	got := r.expect(r.do("GET", "/v2/a/b/blobs/"+d.String(), nil), http.StatusOK, "")
	if !bytes.Equal(got, data) {
		t.Fatalf("GET: %q", got)
	}
	resp = r.do("GET", "/v2/a/b/blobs/"+d.String(), nil, "Range", "bytes=2-5")
	got = r.expect(resp, http.StatusPartialContent, "")
	if string(got) != "2345" || resp.Header.Get("Content-Range") != "bytes 2-5/16" {
		t.Fatalf("Range: %q %q", got, resp.Header.Get("Content-Range"))
	}
	r.expect(r.do("GET", "/v2/a/b/blobs/"+d.String(), nil, "Range", "bytes=100-200"), http.StatusRequestedRangeNotSatisfiable, "")
	// Not in another repository.
	r.expect(r.do("GET", "/v2/other/blobs/"+d.String(), nil), http.StatusNotFound, "BLOB_UNKNOWN")
	r.expect(r.do("DELETE", "/v2/a/b/blobs/"+d.String(), nil), http.StatusAccepted, "")
	r.expect(r.do("GET", "/v2/a/b/blobs/"+d.String(), nil), http.StatusNotFound, "BLOB_UNKNOWN")
	r.expect(r.do("DELETE", "/v2/a/b/blobs/"+d.String(), nil), http.StatusNotFound, "BLOB_UNKNOWN")
	r.expect(r.do("GET", "/v2/a/b/blobs/sha256:nothex", nil), http.StatusBadRequest, "DIGEST_INVALID")
	r.expect(r.do("GET", "/v2/a/b/blobs/md5:"+strings.Repeat("0", 32), nil), http.StatusBadRequest, "DIGEST_INVALID")
}

func TestBlobBadInput(t *testing.T) {
	r := newTestRegistry(t)
	data := []byte("some bytes")
	wrong := digest.FromString("other")
	r.expect(r.do("POST", "/v2/a/blobs/uploads/?digest="+wrong.String(), data), http.StatusBadRequest, "DIGEST_INVALID")
	r.expect(r.do("POST", "/v2/a/blobs/uploads/?digest=sha256:zz", data), http.StatusBadRequest, "DIGEST_INVALID")
	r.expect(r.do("POST", "/v2/A_B/blobs/uploads/", nil), http.StatusBadRequest, "NAME_INVALID")
	r.expect(r.do("POST", "/v2/a/blobs/uploads/?digest-algorithm=md5", nil), http.StatusBadRequest, "DIGEST_INVALID")

	// Session finished with the wrong digest, and without one.
	loc := startUpload(t, r, "a")
	r.expect(r.do("PATCH", loc, data), http.StatusAccepted, "")
	r.expect(r.do("PUT", withDigest(loc, wrong), nil), http.StatusBadRequest, "DIGEST_INVALID")
	r.expect(r.do("PUT", loc, nil), http.StatusBadRequest, "DIGEST_INVALID")
	// The session survives a wrong digest and completes with the right one.
	r.expect(r.do("PUT", withDigest(loc, digest.FromBytes(data)), nil), http.StatusCreated, "")

	// Content-Range length disagreeing with the body: SIZE_INVALID.
	loc = startUpload(t, r, "a")
	r.expect(r.do("PATCH", loc, data, "Content-Range", "0-99"), http.StatusBadRequest, "SIZE_INVALID")
	// A body shorter than its Content-Length: SIZE_INVALID.
	resp := rawRequest(t, r, "POST /v2/a/blobs/uploads/?digest="+digest.FromBytes(data).String()+" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"+string(data))
	if resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "SIZE_INVALID") {
		t.Fatalf("short body: %d %s", resp.status, resp.body)
	}
	r.expect(r.do("GET", "/v2/a/blobs/uploads/0123", nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	r.expect(r.do("GET", "/v2/a/blobs/uploads/"+strings.Repeat("ab", 16), nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
}

type rawResp struct {
	status int
	body   string
}

// rawRequest writes a request by hand and half-closes the connection (for
// bodies shorter than their Content-Length).
func rawRequest(t *testing.T, r *testRegistry, req string) rawResp {
	t.Helper()
	u, _ := url.Parse(r.srv.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, req)
	c.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return rawResp{resp.StatusCode, string(b)}
}

func startUpload(t *testing.T, r *testRegistry, repo string, query ...string) string {
	t.Helper()
	q := ""
	if len(query) > 0 {
		q = "?" + query[0]
	}
	resp := r.do("POST", "/v2/"+repo+"/blobs/uploads/"+q, nil)
	r.expect(resp, http.StatusAccepted, "")
	loc := resp.Header.Get("Location")
	if loc == "" || resp.Header.Get("Docker-Upload-UUID") == "" {
		t.Fatalf("POST: no Location/Docker-Upload-UUID: %v", resp.Header)
	}
	return loc
}

func withDigest(loc string, d digest.Digest) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + url.QueryEscape(d.String())
}

func TestChunkedUpload(t *testing.T) {
	r := newTestRegistry(t)
	data := []byte("abcdefghijklmnopqrstuvwxyz")
	d := digest.FromBytes(data)
	loc := startUpload(t, r, "c/d")

	resp := r.do("PATCH", loc, data[:4], "Content-Range", "0-3")
	r.expect(resp, http.StatusAccepted, "")
	if resp.Header.Get("Range") != "0-3" {
		t.Fatalf("Range after chunk 1: %q", resp.Header.Get("Range"))
	}
	loc = resp.Header.Get("Location")
	// Out of order: 416 with the current range and location.
	resp = r.do("PATCH", loc, data[10:13], "Content-Range", "10-12")
	r.expect(resp, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID")
	if resp.Header.Get("Range") != "0-3" || resp.Header.Get("Location") == "" {
		t.Fatalf("416 headers: %v", resp.Header)
	}
	resp = r.do("PATCH", loc, data[0:2], "Content-Range", "0-1")
	r.expect(resp, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID")
	// Status.
	resp = r.do("GET", loc, nil)
	r.expect(resp, http.StatusNoContent, "")
	if resp.Header.Get("Range") != "0-3" {
		t.Fatalf("status Range %q", resp.Header.Get("Range"))
	}
	// Streamed chunk (no Content-Range).
	resp = r.do("PATCH", loc, data[4:20])
	r.expect(resp, http.StatusAccepted, "")
	if resp.Header.Get("Range") != "0-19" {
		t.Fatalf("Range after stream: %q", resp.Header.Get("Range"))
	}
	// Final chunk in the PUT.
	resp = r.do("PUT", withDigest(resp.Header.Get("Location"), d), data[20:], "Content-Range", "20-25")
	r.expect(resp, http.StatusCreated, "")
	if resp.Header.Get("Location") != "/v2/c/d/blobs/"+d.String() || resp.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT headers: %v", resp.Header)
	}
	if got := r.expect(r.do("GET", "/v2/c/d/blobs/"+d.String(), nil), http.StatusOK, ""); !bytes.Equal(got, data) {
		t.Fatalf("blob: %q", got)
	}
	// The session is gone.
	r.expect(r.do("GET", loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	if ents, _ := os.ReadDir(filepath.Join(r.root, "uploads")); len(ents) != 0 {
		t.Fatalf("uploads left: %v", ents)
	}
}

func TestUploadCancel(t *testing.T) {
	r := newTestRegistry(t)
	loc := startUpload(t, r, "x")
	r.expect(r.do("PATCH", loc, "abc"), http.StatusAccepted, "")
	r.expect(r.do("DELETE", loc, nil), http.StatusNoContent, "")
	r.expect(r.do("GET", loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	r.expect(r.do("DELETE", loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	// A session belongs to its repository.
	loc = startUpload(t, r, "x")
	other := strings.Replace(loc, "/v2/x/", "/v2/y/", 1)
	r.expect(r.do("GET", other, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
}

func TestUploadResumesAfterRestart(t *testing.T) {
	root := t.TempDir()
	r1 := newTestRegistryAt(t, root)
	data := bytes.Repeat([]byte("resumable "), 1000)
	d := digest.FromBytes(data)
	loc := startUpload(t, r1, "resume/me")
	r1.expect(r1.do("PATCH", loc, data[:4000], "Content-Range", "0-3999"), http.StatusAccepted, "")
	r1.srv.Close()
	// A crash after writing data but before saving the state leaves extra
	// bytes; the restarted server must drop them.
	ents, _ := os.ReadDir(filepath.Join(root, "uploads"))
	if len(ents) != 1 {
		t.Fatalf("uploads: %v", ents)
	}
	f, err := os.OpenFile(filepath.Join(root, "uploads", ents[0].Name(), "data"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("garbage from a crash")
	f.Close()

	r2 := newTestRegistryAt(t, root)
	resp := r2.do("GET", loc, nil)
	r2.expect(resp, http.StatusNoContent, "")
	if resp.Header.Get("Range") != "0-3999" {
		t.Fatalf("resumed Range %q", resp.Header.Get("Range"))
	}
	r2.expect(r2.do("PATCH", loc, data[4000:], "Content-Range", fmt.Sprintf("4000-%d", len(data)-1)), http.StatusAccepted, "")
	r2.expect(r2.do("PUT", withDigest(loc, d), nil), http.StatusCreated, "")
	if got := r2.expect(r2.do("GET", "/v2/resume/me/blobs/"+d.String(), nil), http.StatusOK, ""); !bytes.Equal(got, data) {
		t.Fatal("resumed blob differs")
	}
}

func TestMount(t *testing.T) {
	r := newTestRegistry(t)
	d := r.pushBlob("src/repo", []byte("mount me"))
	resp := r.do("POST", "/v2/dst/repo/blobs/uploads/?mount="+d.String()+"&from=src/repo", nil)
	r.expect(resp, http.StatusCreated, "")
	if resp.Header.Get("Location") != "/v2/dst/repo/blobs/"+d.String() {
		t.Fatalf("mount Location %q", resp.Header.Get("Location"))
	}
	r.expect(r.do("HEAD", "/v2/dst/repo/blobs/"+d.String(), nil), http.StatusOK, "")
	// Anonymous mount: the blob exists somewhere.
	r.expect(r.do("POST", "/v2/anon/blobs/uploads/?mount="+d.String(), nil), http.StatusCreated, "")
	// Missing blob or wrong source: an upload session instead.
	missing := digest.FromString("missing")
	r.expect(r.do("POST", "/v2/dst/repo/blobs/uploads/?mount="+missing.String()+"&from=src/repo", nil), http.StatusAccepted, "")
	r.expect(r.do("POST", "/v2/dst2/blobs/uploads/?mount="+d.String()+"&from=nowhere", nil), http.StatusAccepted, "")
	r.expect(r.do("POST", "/v2/dst2/blobs/uploads/?mount="+missing.String(), nil), http.StatusAccepted, "")
}

func TestSha512(t *testing.T) {
	r := newTestRegistry(t)
	data := []byte("sha512 content")
	sum := sha512.Sum512(data)
	d := digest.NewDigestFromEncoded(digest.SHA512, hex.EncodeToString(sum[:]))
	r.expect(r.do("POST", "/v2/s/blobs/uploads/?digest="+d.String(), data), http.StatusCreated, "")
	r.expect(r.do("HEAD", "/v2/s/blobs/"+d.String(), nil), http.StatusOK, "")
	if _, err := os.Stat(filepath.Join(r.root, "blobs", "sha512", d.Encoded())); err != nil {
		t.Fatal(err)
	}
	// Session hashing with sha512, and a sha256 session finished with a sha512 digest.
	for _, q := range []string{"digest-algorithm=sha512", ""} {
		loc := startUpload(t, r, "s2", q)
		r.expect(r.do("PATCH", loc, data), http.StatusAccepted, "")
		r.expect(r.do("PUT", withDigest(loc, d), nil), http.StatusCreated, "")
	}
	// A manifest by sha512 digest.
	im := r.image("s", "x", true)
	msum := sha512.Sum512(im.manifest)
	md := digest.NewDigestFromEncoded(digest.SHA512, hex.EncodeToString(msum[:]))
	resp := r.putManifest("s", md.String(), ociManifest, im.manifest)
	r.expect(resp, http.StatusCreated, "")
	if resp.Header.Get("Docker-Content-Digest") != md.String() {
		t.Fatalf("digest header %q", resp.Header.Get("Docker-Content-Digest"))
	}
	if got := r.expect(r.do("GET", "/v2/s/manifests/"+md.String(), nil), http.StatusOK, ""); !bytes.Equal(got, im.manifest) {
		t.Fatal("sha512 manifest differs")
	}
}

func TestConcurrentPushesOfOneBlob(t *testing.T) {
	r := newTestRegistry(t)
	data := bytes.Repeat([]byte("same blob "), 50000)
	d := digest.FromBytes(data)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo := fmt.Sprintf("conc/r%d", i%3) // same and different repositories
			resp, err := http.Post(r.srv.URL+"/v2/"+repo+"/blobs/uploads/", "", nil)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			loc := r.srv.URL + resp.Header.Get("Location")
			req, _ := http.NewRequest("PATCH", loc, bytes.NewReader(data))
			resp, err = http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				errs <- fmt.Sprintf("PATCH: %v %v", err, resp)
				return
			}
			resp.Body.Close()
			req, _ = http.NewRequest("PUT", withDigest(loc, d), nil)
			resp, err = http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusCreated {
				errs <- fmt.Sprintf("PUT: %v %v", err, resp)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	ents, _ := os.ReadDir(filepath.Join(r.root, "blobs", "sha256"))
	if len(ents) != 1 || ents[0].Name() != d.Encoded() {
		t.Fatalf("blobs: %v", ents)
	}
	for i := range 3 {
		got := r.expect(r.do("GET", fmt.Sprintf("/v2/conc/r%d/blobs/%s", i, d), nil), http.StatusOK, "")
		if !bytes.Equal(got, data) {
			t.Fatalf("repo %d: blob differs", i)
		}
	}
	for _, dir := range []string{"uploads", "ingest"} {
		if ents, _ := os.ReadDir(filepath.Join(r.root, dir)); len(ents) != 0 {
			t.Fatalf("%s left: %v", dir, ents)
		}
	}
}

// readFromRecorder is a ResponseWriter that, like net/http's, has
// ReadFrom; it records what each ReadFrom was given.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	srcs []io.Reader
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.srcs = append(r.srcs, src)
	return io.Copy(struct{ io.Writer }{r.ResponseRecorder}, src)
}

// TestBlobGetIsSendfile: a blob GET (whole or a Range) on the filesystem
// hands the connection's ReadFrom the blob's bare *os.File (in
// io.CopyN's LimitedReader), which is what makes net/http use
// sendfile(2): no wrapper of the ResponseWriter (respWriter's metrics)
// or of the file stands in between. GET and HEAD carry the blob headers.
func TestBlobGetIsSendfile(t *testing.T) {
	st, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := New(st)
	data := bytes.Repeat([]byte("0123456789"), 10000)
	d := digest.FromBytes(data)
	if _, err := st.PutBlob(context.Background(), "a", bytes.NewReader(data), int64(len(data)), d); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rng        string
		status     int
		start, end int
	}{{"", http.StatusOK, 0, len(data)}, {"bytes=7-99990", http.StatusPartialContent, 7, 99991}, {"bytes=5000-", http.StatusPartialContent, 5000, len(data)}} {
		rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest("GET", "/v2/a/blobs/"+d.String(), nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || !bytes.Equal(rec.Body.Bytes(), data[tc.start:tc.end]) {
			t.Fatalf("GET %q: %d, %d bytes", tc.rng, rec.Code, rec.Body.Len())
		}
		if len(rec.srcs) != 1 {
			t.Fatalf("GET %q: %d ReadFrom calls, want 1", tc.rng, len(rec.srcs))
		}
		lr, ok := rec.srcs[0].(*io.LimitedReader)
		if !ok {
			t.Fatalf("GET %q: ReadFrom got a %T, want an *io.LimitedReader of the *os.File", tc.rng, rec.srcs[0])
		}
		if _, ok := lr.R.(*os.File); !ok {
			t.Fatalf("GET %q: ReadFrom got a LimitedReader of a %T, want the bare *os.File", tc.rng, lr.R)
		}
		hd := rec.Header()
		if hd.Get("Docker-Content-Digest") != d.String() || hd.Get("ETag") != `"`+d.String()+`"` || hd.Get("Accept-Ranges") != "bytes" ||
			hd.Get("Content-Length") != fmt.Sprint(tc.end-tc.start) {
			t.Fatalf("GET %q: headers %v", tc.rng, hd)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("HEAD", "/v2/a/blobs/"+d.String(), nil))
	hd := rec.Header()
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || hd.Get("Docker-Content-Digest") != d.String() || hd.Get("ETag") != `"`+d.String()+`"` ||
		hd.Get("Accept-Ranges") != "bytes" || hd.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Fatalf("HEAD: %d %v", rec.Code, hd)
	}
	// A blob whose file is gone (GC) is unknown, not an error.
	p := filepath.Join(st.Root(), "blobs", "sha256", d.Encoded())
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET", "HEAD"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/v2/a/blobs/"+d.String(), nil))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s of a deleted blob: %d %s", m, rec.Code, rec.Body)
		}
	}
}
