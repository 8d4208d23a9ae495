// Command loadgen seeds registries and pushes blobs concurrently for the
// registry benchmark (bench/registry/run.sh). It talks plain HTTP to
// 127.0.0.1 registries only.
//
//	loadgen seed -url URL -repo NAME -tag TAG -blob-size BYTES   # prints the big blob's digest
//	loadgen push -url URL -repo NAME -clients N -size BYTES      # N concurrent streamed pushes
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen seed|push [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:5000", "registry base URL")
	repo := fs.String("repo", "bench/app", "repository")
	tag := fs.String("tag", "latest", "tag (seed)")
	blobSize := fs.Int64("blob-size", 88<<20, "big blob size (seed)")
	clients := fs.Int("clients", 32, "concurrent pushes (push)")
	size := fs.Int64("size", 100<<20, "bytes per push (push)")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed (push)")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "seed":
		err = seedRegistry(*base, *repo, *tag, *blobSize)
	case "push":
		err = pushMany(*base, *repo, *clients, *size, *seed)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// randReader yields size pseudo-random bytes quickly.
type randReader struct {
	r    *rand.ChaCha8
	left int64
}

func (r *randReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, _ := r.r.Read(p)
	r.left -= int64(n)
	return n, nil
}

func newRand(seed uint64, size int64) *randReader {
	var k [32]byte
	for i := range 8 {
		k[i] = byte(seed >> (8 * i))
	}
	return &randReader{r: rand.NewChaCha8(k), left: size}
}

func digestOf(seed uint64, size int64) digest.Digest {
	h := sha256.New()
	io.CopyBuffer(h, newRand(seed, size), make([]byte, 1<<20))
	return digest.NewDigest(digest.SHA256, h)
}

func check(resp *http.Response, err error, want int, what string) (*http.Response, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("%s: status %d: %s", what, resp.StatusCode, b)
	}
	return resp, nil
}

func location(base string, resp *http.Response) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	l, err := u.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", err
	}
	return l.String(), nil
}

// pushBlob does POST, one streamed PATCH and PUT ?digest=.
func pushBlob(c *http.Client, base, repo string, body io.Reader, d digest.Digest) error {
	resp, err := c.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	resp, err = check(resp, err, http.StatusAccepted, "POST upload")
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc, err := location(base, resp)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPatch, loc, body)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = c.Do(req)
	resp, err = check(resp, err, http.StatusAccepted, "PATCH")
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc, err = location(base, resp)
	if err != nil {
		return err
	}
	u, _ := url.Parse(loc)
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	req, _ = http.NewRequest(http.MethodPut, u.String(), nil)
	resp, err = c.Do(req)
	resp, err = check(resp, err, http.StatusCreated, "PUT")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func seedRegistry(base, repo, tag string, blobSize int64) error {
	c := &http.Client{}
	big := digestOf(1, blobSize)
	if err := pushBlob(c, base, repo, newRand(1, blobSize), big); err != nil {
		return err
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Labels":{"org.opencontainers.image.description":"benchmark image"}},"rootfs":{"type":"layers","diff_ids":["` + big.String() + `"]}}`)
	cd := digest.FromBytes(cfg)
	if err := pushBlob(c, base, repo, bytes.NewReader(cfg), cd); err != nil {
		return err
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": big, "size": blobSize}},
	}
	mb, _ := json.Marshal(m)
	req, _ := http.NewRequest(http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(mb))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := c.Do(req)
	resp, err = check(resp, err, http.StatusCreated, "PUT manifest")
	if err != nil {
		return err
	}
	resp.Body.Close()
	fmt.Println(big)
	return nil
}

func pushMany(base, repo string, clients int, size int64, seed uint64) error {
	// Digests are computed first so that hashing does not compete with
	// the registry during the timed part.
	ds := make([]digest.Digest, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); ds[i] = digestOf(seed+uint64(i), size) }()
	}
	wg.Wait()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	errs := make([]error, clients)
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pushBlob(c, base, fmt.Sprintf("%s%d", repo, i%4), newRand(seed+uint64(i), size), ds[i])
		}()
	}
	wg.Wait()
	el := time.Since(start)
	failed := 0
	for _, e := range errs {
		if e != nil {
			failed++
			fmt.Fprintln(os.Stderr, "push:", e)
		}
	}
	fmt.Printf("pushes=%d failed=%d seconds=%.3f MBps=%.1f\n", clients, failed, el.Seconds(), float64(size)*float64(clients-failed)/el.Seconds()/1e6)
	if failed > 0 {
		return fmt.Errorf("%d pushes failed", failed)
	}
	return nil
}
