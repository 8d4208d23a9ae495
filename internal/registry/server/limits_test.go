package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// openFDs counts the descriptors process pid holds.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// call does one request through client and returns status, headers and body.
func call(t *testing.T, c *http.Client, method, url string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestUploadSessionsHoldNoDescriptors opens 3,000 upload sessions on
// `hoist registry serve` (caps from the config file): the server's
// descriptors stay flat, a chunked push and a pull still work, the cap
// answers 429 TOOMANYREQUESTS with the distribution error JSON.
func TestUploadSessionsHoldNoDescriptors(t *testing.T) {
	const sessions = 3000
	bin := hoistBinary(t)
	root := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`{"uploads_per_repository": %d, "uploads_per_client": 0}`, sessions)), 0o600)
	srv := startHoist(t, bin, root, addr, "--config", cfgFile)
	pid := srv.Process.Pid

	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer c.CloseIdleConnections()
	if st, _, b := call(t, c, "GET", base+"/v2/", nil); st != http.StatusOK {
		t.Fatalf("/v2/: %d %s", st, b)
	}
	c.CloseIdleConnections()
	before := openFDs(t, pid)

	var locs []string
	for i := range sessions {
		st, h, b := call(t, c, "POST", base+"/v2/many/blobs/uploads/", nil)
		if st != http.StatusAccepted {
			t.Fatalf("session %d: %d %s", i, st, b)
		}
		locs = append(locs, h.Get("Location"))
	}
	// Write into every tenth session, so sessions with data count too.
	for i := 0; i < sessions; i += 10 {
		if st, _, b := call(t, c, "PATCH", base+locs[i], []byte("some bytes")); st != http.StatusAccepted {
			t.Fatalf("PATCH %d: %d %s", i, st, b)
		}
	}
	c.CloseIdleConnections()
	// The server closes our connections asynchronously: poll for the count.
	after := 0
	for deadline := time.Now().Add(10 * time.Second); ; {
		after = openFDs(t, pid)
		if after <= before || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("server descriptors: %d before, %d with %d open upload sessions", before, after, sessions)
	if after > before {
		t.Fatalf("descriptors grew from %d to %d with %d open sessions", before, after, sessions)
	}

	// The cap: session 3,001 of the repository is refused with docker's error JSON.
	st, _, b := call(t, c, "POST", base+"/v2/many/blobs/uploads/", nil)
	if st != http.StatusTooManyRequests {
		t.Fatalf("session over the cap: %d %s", st, b)
	}
	var eb errorBody
	if err := json.Unmarshal(b, &eb); err != nil || len(eb.Errors) != 1 || eb.Errors[0].Code != "TOOMANYREQUESTS" {
		t.Fatalf("cap error body: %s", b)
	}
	// Finishing a session frees its place.
	if st, _, b := call(t, c, "DELETE", base+locs[1], nil); st != http.StatusNoContent {
		t.Fatalf("cancel: %d %s", st, b)
	}
	if st, _, b := call(t, c, "POST", base+"/v2/many/blobs/uploads/", nil); st != http.StatusAccepted {
		t.Fatalf("session after a cancel: %d %s", st, b)
	}

	// A chunked push (another repository) and a pull still work.
	layer := bytes.Repeat([]byte("layer"), 100000)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	ld, cd := digest.FromBytes(layer), digest.FromBytes(config)
	st, h, b := call(t, c, "POST", base+"/v2/still/works/blobs/uploads/", nil)
	if st != http.StatusAccepted {
		t.Fatalf("POST: %d %s", st, b)
	}
	loc := base + h.Get("Location")
	half := len(layer) / 2
	if st, _, b := call(t, c, "PATCH", loc, layer[:half], "Content-Range", fmt.Sprintf("0-%d", half-1)); st != http.StatusAccepted {
		t.Fatalf("PATCH: %d %s", st, b)
	}
	if st, _, b := call(t, c, "PUT", loc+"?digest="+ld.String(), layer[half:], "Content-Range", fmt.Sprintf("%d-%d", half, len(layer)-1)); st != http.StatusCreated {
		t.Fatalf("PUT: %d %s", st, b)
	}
	if st, _, b := call(t, c, "POST", base+"/v2/still/works/blobs/uploads/?digest="+cd.String(), config); st != http.StatusCreated {
		t.Fatalf("monolithic: %d %s", st, b)
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		ociManifest, cd, len(config), ld, len(layer))
	if st, _, b := call(t, c, "PUT", base+"/v2/still/works/manifests/v1", []byte(m), "Content-Type", ociManifest); st != http.StatusCreated {
		t.Fatalf("manifest: %d %s", st, b)
	}
	if st, _, b := call(t, c, "GET", base+"/v2/still/works/manifests/v1", nil, "Accept", ociManifest); st != http.StatusOK || string(b) != m {
		t.Fatalf("pull manifest: %d %s", st, b)
	}
	if st, _, b := call(t, c, "GET", base+"/v2/still/works/blobs/"+ld.String(), nil); st != http.StatusOK || !bytes.Equal(b, layer) {
		t.Fatalf("pull layer: %d, %d bytes", st, len(b))
	}
}

// TestIdleUploadSessionExpires: with HOIST_REGISTRY_UPLOAD_MAX_AGE=1s an
// idle session is gone (404 BLOB_UPLOAD_UNKNOWN) and its directory removed,
// while a fresh one works.
func TestIdleUploadSessionExpires(t *testing.T) {
	bin := hoistBinary(t)
	root := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	t.Setenv("HOIST_REGISTRY_UPLOAD_MAX_AGE", "1s")
	startHoist(t, bin, root, addr)
	c := &http.Client{}
	st, h, b := call(t, c, "POST", base+"/v2/idle/blobs/uploads/", nil)
	if st != http.StatusAccepted {
		t.Fatalf("POST: %d %s", st, b)
	}
	loc := base + h.Get("Location")
	id := h.Get("Docker-Upload-UUID")
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, _, b = call(t, c, "GET", loc, nil)
		if st == http.StatusNotFound {
			break
		}
		if st != http.StatusNoContent || time.Now().After(deadline) {
			t.Fatalf("idle session: %d %s", st, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var eb errorBody
	if json.Unmarshal(b, &eb) != nil || len(eb.Errors) == 0 || eb.Errors[0].Code != "BLOB_UPLOAD_UNKNOWN" {
		t.Fatalf("expired session body: %s", b)
	}
	if _, err := os.Stat(filepath.Join(root, "uploads", id)); !os.IsNotExist(err) {
		t.Fatalf("expired session's directory still there: %v", err)
	}
	if st, _, b := call(t, c, "POST", base+"/v2/idle/blobs/uploads/", nil); st != http.StatusAccepted {
		t.Fatalf("new session: %d %s", st, b)
	}
}
