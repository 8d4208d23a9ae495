package cli

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pushRaw uploads blobs and a manifest to a registry with plain HTTP
// requests (POST for a session, PUT ?digest= to finish; PUT of the
// manifest), so that a test can push what no client of hoist would build.
func pushRaw(t *testing.T, reg, repo, tag string, config []byte, layers ...[]byte) {
	t.Helper()
	put := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		resp, err := http.Post("http://"+reg+"/v2/"+repo+"/blobs/uploads/", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusAccepted || loc == "" {
			t.Fatalf("start upload: %s", resp.Status)
		}
		if !strings.HasPrefix(loc, "http") {
			loc = "http://" + reg + loc
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		req, _ := http.NewRequest(http.MethodPut, loc+sep+"digest="+d.String(), bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("finish upload of %s: %s", d, resp.Status)
		}
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: put(config)}
	m.SchemaVersion = 2
	m.Config.MediaType = ocispec.MediaTypeImageConfig
	for _, l := range layers {
		d := put(l)
		d.MediaType = ocispec.MediaTypeImageLayer
		m.Layers = append(m.Layers, d)
	}
	mb, _ := json.Marshal(m)
	req, _ := http.NewRequest(http.MethodPut, "http://"+reg+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(mb))
	req.Header.Set("Content-Type", ocispec.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("put manifest: %s %s", resp.Status, body)
	}
}

// oneFileLayer is an uncompressed layer tar holding one file.
func oneFileLayer(name, text string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg})
	tw.Write([]byte(text))
	tw.Close()
	return b.Bytes()
}

// An image config without os and architecture is pulled, loaded and kept
// as docker, podman and skopeo do (hoist refused it: "os and architecture
// are required", and `pull -a` gave up on the whole repository); inspect
// shows them empty, as docker does.
func TestPullConfigWithoutPlatform(t *testing.T) {
	bin := hoistBinary(t)
	reg := serveRegistry(t, bin)
	h := rootRunner{t, bin, t.TempDir()}
	layer := oneFileLayer("hello", "no platform\n")
	bare := fmt.Sprintf(`{"rootfs":{"type":"layers","diff_ids":[%q]},"config":{"Cmd":["/hello"]}}`, digest.FromBytes(layer))
	pushRaw(t, reg, "odd/img", "bare", []byte(bare), layer)
	layer2 := oneFileLayer("other", "with platform\n")
	full := fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]},"config":{}}`, digest.FromBytes(layer2))
	pushRaw(t, reg, "odd/img", "full", []byte(full), layer2)

	ref := reg + "/odd/img"
	h.must("pull", ref+":bare")
	if out := h.must("image", "inspect", "-f", "{{.Os}}|{{.Architecture}}|{{json .Config.Cmd}}", ref+":bare"); out != "||[\"/hello\"]\n" {
		t.Fatalf("inspect: %q", out)
	}
	if out := h.must("image", "inspect", ref+":bare"); !strings.Contains(out, `"Architecture": "",`) || !strings.Contains(out, `"Os": "",`) {
		t.Fatalf("inspect JSON should show empty Architecture and Os: %s", out)
	}
	h.must("rmi", ref+":bare")
	h.must("pull", "-a", ref)
	out := h.must("images", "--format", "{{.Tag}}", ref)
	if out != "bare\nfull\n" && out != "full\nbare\n" {
		t.Fatalf("pull -a: tags %q", out)
	}
	// Saved and loaded into another root; the store's checks take it.
	archive := filepath.Join(t.TempDir(), "bare.tar")
	h.must("save", "-o", archive, ref+":bare")
	h2 := rootRunner{t, bin, t.TempDir()}
	h2.must("load", "-i", archive)
	if out := h2.must("image", "inspect", "-f", "{{.Os}}|{{.Architecture}}", ref+":bare"); out != "|\n" {
		t.Fatalf("inspect after load: %q", out)
	}
	for _, r := range []rootRunner{h, h2} {
		if out := r.must("system", "check"); !strings.Contains(out, "No problems found") {
			t.Fatalf("system check: %s", out)
		}
	}
}
