package distribution

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/hoistproject/hoist/internal/registry/server"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
)

// blobHook serves a layer blob GET in place of the registry: full is the
// registry's whole answer (headers and body) to a plain GET.
type blobHook func(w http.ResponseWriter, r *http.Request, full *httptest.ResponseRecorder, next http.Handler)

// hookedRegistry is a hoist registry whose GETs of blobs go through hook
// once set (configs and layers alike: hooks pass small blobs through).
type hookedRegistry struct {
	host string
	mu   sync.Mutex
	hook blobHook
	log  []string
}

func newHookedRegistry(t *testing.T) *hookedRegistry {
	st, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &hookedRegistry{}
	next := server.New(st)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		hook := h.hook
		h.log = append(h.log, r.Method+" "+r.URL.Path+" "+r.Header.Get("Range"))
		h.mu.Unlock()
		if hook == nil || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			next.ServeHTTP(w, r)
			return
		}
		full := httptest.NewRecorder()
		plain := r.Clone(r.Context())
		plain.Header.Del("Range")
		next.ServeHTTP(full, plain)
		hook(w, r, full, next)
	}))
	t.Cleanup(srv.Close)
	h.host = strings.TrimPrefix(srv.URL, "http://")
	return h
}

func (h *hookedRegistry) setHook(f blobHook) {
	h.mu.Lock()
	h.hook = f
	h.mu.Unlock()
}

func (h *hookedRegistry) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.log...)
}

// bigLayerImage pushes a one-layer image of two 2 MiB files of random
// bytes (so the compressed blob is as big) named host/big:v1 and returns
// its image ID.
func bigLayerImage(t *testing.T, host string) digest.Digest {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range []string{"a", "b"} {
		data := make([]byte, 2<<20)
		rand.Read(data)
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	src := openStore(t)
	img, err := src.Import(ctx, &b, images.ImportOptions{Name: host + "/big:v1"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient()
	defer c.Close()
	if _, err := Push(ctx, c, src, name(t, host+"/big:v1"), PushOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	return img.ID
}

func writeHeaders(w http.ResponseWriter, full *httptest.ResponseRecorder) {
	for k, v := range full.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(full.Code)
}

// TestPullUnpacksWhileDownloading: the layer's first file is on disk (in
// the unpack directory) while the registry still holds back the second half
// of the blob.
func TestPullUnpacksWhileDownloading(t *testing.T) {
	reg := newHookedRegistry(t)
	want := bigLayerImage(t, reg.host)
	root := t.TempDir()
	st, err := images.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan bool, 1)
	reg.setHook(func(w http.ResponseWriter, r *http.Request, full *httptest.ResponseRecorder, next http.Handler) {
		body := full.Body.Bytes()
		if len(body) < 1<<20 {
			next.ServeHTTP(w, r)
			return
		}
		writeHeaders(w, full)
		half := len(body) / 2
		w.Write(body[:half])
		w.(http.Flusher).Flush()
		// wait (bounded, so a broken pipeline fails instead of hanging)
		// for the unpack to have written file a
		found := false
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !found; time.Sleep(10 * time.Millisecond) {
			m, _ := filepath.Glob(filepath.Join(root, "layers", "tmp", "*", "diff", "a"))
			found = len(m) > 0
		}
		seen <- found
		w.Write(body[half:])
	})
	res, err := Pull(ctx, newClient(), st, name(t, reg.host+"/big:v1"), PullOptions{})
	if err != nil || res.ImageID != want {
		t.Fatalf("Pull = %+v %v", res, err)
	}
	select {
	case ok := <-seen:
		if !ok {
			t.Fatal("nothing was unpacked before the blob's second half was sent: pull does not unpack while downloading")
		}
	default:
		t.Fatal("the layer blob was not fetched through the hook")
	}
	full, err := st.Get(ctx, reg.host+"/big:v1")
	if err != nil {
		t.Fatal(err)
	}
	dirs, _, err := st.DiffDirs(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if fi, err := os.Stat(filepath.Join(dirs[0], n)); err != nil || fi.Size() != 2<<20 {
			t.Fatalf("unpacked %s: %v", n, err)
		}
	}
}

// TestPullResumesIntoUnpack: the connection drops in the middle of a layer
// being unpacked; the download resumes with a Range request and the same
// unpack goes on.
func TestPullResumesIntoUnpack(t *testing.T) {
	reg := newHookedRegistry(t)
	want := bigLayerImage(t, reg.host)
	cuts := 2
	reg.setHook(func(w http.ResponseWriter, r *http.Request, full *httptest.ResponseRecorder, next http.Handler) {
		if full.Body.Len() < 1<<20 || cuts == 0 {
			next.ServeHTTP(w, r)
			return
		}
		cuts--
		// the first GETs send a third of what they were asked for, then
		// drop the connection
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		writeHeaders(w, rec)
		w.Write(rec.Body.Bytes()[:rec.Body.Len()/3])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	st := openStore(t)
	res, err := Pull(ctx, newClient(), st, name(t, reg.host+"/big:v1"), PullOptions{})
	if err != nil || res.ImageID != want {
		t.Fatalf("Pull = %+v %v", res, err)
	}
	ranges := 0
	for _, l := range reg.requests() {
		if strings.HasPrefix(l, "GET ") && strings.HasSuffix(l, "-") && strings.Contains(l, "bytes=") {
			ranges++
		}
	}
	if ranges != 2 {
		t.Fatalf("want 2 resumed GETs with Range, got %d: %v", ranges, reg.requests())
	}
	if _, err := st.Resolve(ctx, reg.host+"/big:v1"); err != nil {
		t.Fatal(err)
	}
}

// TestPullCorruptLayerPipelinedCommitsNothing: a registry that sends bytes
// that do not match the layer's digest: the pull fails with the digest
// mismatch (not a decompression error) and leaves no blob, no layer, no
// image and no temporary files.
func TestPullCorruptLayerPipelinedCommitsNothing(t *testing.T) {
	reg := newHookedRegistry(t)
	bigLayerImage(t, reg.host)
	reg.setHook(func(w http.ResponseWriter, r *http.Request, full *httptest.ResponseRecorder, next http.Handler) {
		body := full.Body.Bytes()
		if len(body) < 1<<20 {
			next.ServeHTTP(w, r)
			return
		}
		bad := bytes.Clone(body)
		bad[len(bad)/2] ^= 0xff
		writeHeaders(w, full)
		w.Write(bad)
	})
	root := t.TempDir()
	st, err := images.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pull(ctx, newClient(), st, name(t, reg.host+"/big:v1"), PullOptions{})
	if !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("corrupt pull: %v", err)
	}
	if _, err := st.Resolve(ctx, reg.host+"/big:v1"); !errdefs.IsNotFound(err) {
		t.Fatalf("image recorded: %v", err)
	}
	var ls map[digest.Digest]layers.Layer
	// The root's own records and blobs, read as a fresh process would.
	metadata.Open(root).View(ctx, func(tx *metadata.Tx) error { ls, err = layers.AllTx(tx); return err })
	if len(ls) != 0 {
		t.Fatalf("layers recorded: %v", ls)
	}
	var blobs []content.Info
	cs, err := content.NewLocal(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	cs.Walk(ctx, func(i content.Info) error {
		if i.Size >= 1<<20 {
			blobs = append(blobs, i)
		}
		return nil
	})
	if len(blobs) != 0 {
		t.Fatalf("layer blob stored: %v", blobs)
	}
	for _, d := range []string{filepath.Join(root, "layers", "tmp"), filepath.Join(root, "content", "ingest")} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Fatalf("leftovers in %s: %v", d, ents)
		}
	}
}
