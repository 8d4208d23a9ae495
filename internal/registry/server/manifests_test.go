package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestManifestPutGetDelete(t *testing.T) {
	r := newTestRegistry(t)
	im := r.image("app", "demo", true)
	resp := r.putManifest("app", "v1", ociManifest, im.manifest)
	r.expect(resp, http.StatusCreated, "")
	if resp.Header.Get("Docker-Content-Digest") != im.manifestD.String() || resp.Header.Get("Location") != "/v2/app/manifests/"+im.manifestD.String() {
		t.Fatalf("PUT headers: %v", resp.Header)
	}
	for _, ref := range []string{"v1", im.manifestD.String()} {
		resp := r.do("GET", "/v2/app/manifests/"+ref, nil)
		got := r.expect(resp, http.StatusOK, "")
		if !bytes.Equal(got, im.manifest) || resp.Header.Get("Content-Type") != ociManifest || resp.Header.Get("Docker-Content-Digest") != im.manifestD.String() {
			t.Fatalf("GET %s: %q %v", ref, got, resp.Header)
		}
		resp = r.do("HEAD", "/v2/app/manifests/"+ref, nil)
		r.expect(resp, http.StatusOK, "")
		if resp.ContentLength != int64(len(im.manifest)) {
			t.Fatalf("HEAD length %d", resp.ContentLength)
		}
	}
	// Retagging is seen at once (the tag cache is validated).
	im2 := r.image("app", "demo2", true)
	r.expect(r.putManifest("app", "v1", ociManifest, im2.manifest), http.StatusCreated, "")
	if got := r.expect(r.do("GET", "/v2/app/manifests/v1", nil), http.StatusOK, ""); !bytes.Equal(got, im2.manifest) {
		t.Fatal("retag not visible")
	}
	// Tag delete keeps the manifest.
	r.expect(r.do("DELETE", "/v2/app/manifests/v1", nil), http.StatusAccepted, "")
	r.expect(r.do("GET", "/v2/app/manifests/v1", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	r.expect(r.do("GET", "/v2/app/manifests/"+im2.manifestD.String(), nil), http.StatusOK, "")
	r.expect(r.do("DELETE", "/v2/app/manifests/v1", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	// Digest delete removes the manifest and its tags.
	r.expect(r.putManifest("app", "v2", ociManifest, im.manifest), http.StatusCreated, "")
	r.expect(r.do("DELETE", "/v2/app/manifests/"+im.manifestD.String(), nil), http.StatusAccepted, "")
	r.expect(r.do("GET", "/v2/app/manifests/"+im.manifestD.String(), nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	r.expect(r.do("GET", "/v2/app/manifests/v2", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	r.expect(r.do("GET", "/v2/unknown/manifests/latest", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
}

func TestManifestMediaTypes(t *testing.T) {
	r := newTestRegistry(t)
	im := r.image("mt", "x", true)
	docker := bytes.Replace(im.manifest, []byte(ociManifest), []byte("application/vnd.docker.distribution.manifest.v2+json"), 1)
	docker = bytes.Replace(docker, []byte("application/vnd.oci.image.config.v1+json"), []byte("application/vnd.docker.container.image.v1+json"), 1)
	r.expect(r.putManifest("mt", "docker", "application/vnd.docker.distribution.manifest.v2+json", docker), http.StatusCreated, "")
	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}}]}`,
		"application/vnd.docker.distribution.manifest.v2+json", digest.FromBytes(docker), len(docker)))
	r.expect(r.putManifest("mt", "index", "application/vnd.oci.image.index.v1+json", index), http.StatusCreated, "")
	list := bytes.Replace(index, []byte("application/vnd.oci.image.index.v1+json"), []byte("application/vnd.docker.distribution.manifest.list.v2+json"), 1)
	r.expect(r.putManifest("mt", "list", "application/vnd.docker.distribution.manifest.list.v2+json", list), http.StatusCreated, "")
	for tag, want := range map[string]string{
		"docker": "application/vnd.docker.distribution.manifest.v2+json",
		"index":  "application/vnd.oci.image.index.v1+json",
		"list":   "application/vnd.docker.distribution.manifest.list.v2+json",
	} {
		resp := r.do("GET", "/v2/mt/manifests/"+tag, nil)
		r.expect(resp, http.StatusOK, "")
		if resp.Header.Get("Content-Type") != want {
			t.Errorf("%s: Content-Type %q", tag, resp.Header.Get("Content-Type"))
		}
	}
	// A sparse index (children not pushed) is accepted.
	sparse := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":%q,"digest":%q,"size":10}]}`, ociManifest, digest.FromString("absent")))
	r.expect(r.putManifest("mt", "sparse", "application/vnd.oci.image.index.v1+json", sparse), http.StatusCreated, "")
}

func TestManifestBadInput(t *testing.T) {
	r := newTestRegistry(t)
	im := r.image("bad", "x", false)
	// Blobs not pushed.
	r.expect(r.putManifest("bad", "v1", ociManifest, im.manifest), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	r.pushBlob("bad", im.config)
	r.expect(r.putManifest("bad", "v1", ociManifest, im.manifest), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	// A blob of another repository does not count.
	r.pushBlob("elsewhere", im.layer)
	r.expect(r.putManifest("bad", "v1", ociManifest, im.manifest), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	r.pushBlob("bad", im.layer)
	// Over the limit.
	big := append([]byte(`{"schemaVersion":2,"x":"`), bytes.Repeat([]byte("a"), 4<<20)...)
	r.expect(r.putManifest("bad", "big", ociManifest, big), http.StatusRequestEntityTooLarge, "SIZE_INVALID")
	// Malformed.
	r.expect(r.putManifest("bad", "v1", ociManifest, []byte("{not json")), http.StatusBadRequest, "MANIFEST_INVALID")
	r.expect(r.putManifest("bad", "v1", "application/vnd.oci.image.index.v1+json", im.manifest), http.StatusBadRequest, "MANIFEST_INVALID")
	noConfig := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`)
	r.expect(r.putManifest("bad", "v1", ociManifest, noConfig), http.StatusBadRequest, "MANIFEST_INVALID")
	wrongSize := bytes.Replace(im.manifest, []byte(fmt.Sprintf(`"size":%d}]`, len(im.layer))), []byte(`"size":1}]`), 1)
	r.expect(r.putManifest("bad", "v1", ociManifest, wrongSize), http.StatusBadRequest, "MANIFEST_INVALID")
	// Wrong digest in the URL.
	r.expect(r.putManifest("bad", digest.FromString("x").String(), ociManifest, im.manifest), http.StatusBadRequest, "DIGEST_INVALID")
	// Invalid tag and names.
	r.expect(r.putManifest("bad", "-tag", ociManifest, im.manifest), http.StatusBadRequest, "TAG_INVALID")
	r.expect(r.putManifest("bad", strings.Repeat("t", 129), ociManifest, im.manifest), http.StatusBadRequest, "TAG_INVALID")
	r.expect(r.do("PUT", "/v2/bad/manifests/"+im.manifestD.String()+"?tag=ok&tag=no!", im.manifest, "Content-Type", ociManifest), http.StatusBadRequest, "TAG_INVALID")
	for _, name := range []string{"Upper", "a//b", "a/", "-a", "a..b", "a___b", "_x", strings.Repeat("a", 256)} {
		r.expect(r.putManifest(name, "v1", ociManifest, im.manifest), http.StatusBadRequest, "NAME_INVALID")
	}
	// All good at last; by digest with tag parameters (OCI-Tag).
	resp := r.do("PUT", "/v2/bad/manifests/"+im.manifestD.String()+"?tag=a&tag=b", im.manifest, "Content-Type", ociManifest)
	r.expect(resp, http.StatusCreated, "")
	if resp.Header.Get("OCI-Tag") != "a, b" {
		t.Fatalf("OCI-Tag %q", resp.Header.Get("OCI-Tag"))
	}
	r.expect(r.do("GET", "/v2/bad/manifests/b", nil), http.StatusOK, "")
}

func TestAllowSparse(t *testing.T) {
	r := newTestRegistry(t, WithAllowSparse(true))
	im := r.image("sp", "x", false)
	r.expect(r.putManifest("sp", "v1", ociManifest, im.manifest), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN") // config still required
	r.pushBlob("sp", im.config)
	r.expect(r.putManifest("sp", "v1", ociManifest, im.manifest), http.StatusCreated, "")
}

func TestReferrers(t *testing.T) {
	r := newTestRegistry(t)
	im := r.image("ref", "subject", true)
	r.expect(r.putManifest("ref", "v1", ociManifest, im.manifest), http.StatusCreated, "")
	empty := []byte("{}")
	emptyD := r.pushBlob("ref", empty)
	artifact := func(at, note string) []byte {
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":%q,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":%d},"annotations":{"note":%q}}`,
			ociManifest, at, emptyD, ociManifest, im.manifestD, len(im.manifest), note))
	}
	sig, sbom := artifact("application/vnd.example.sig", "s"), artifact("application/vnd.example.sbom", "b")
	for _, a := range [][]byte{sig, sbom} {
		resp := r.putManifest("ref", digest.FromBytes(a).String(), ociManifest, a)
		r.expect(resp, http.StatusCreated, "")
		if resp.Header.Get("OCI-Subject") != im.manifestD.String() {
			t.Fatalf("OCI-Subject %q", resp.Header.Get("OCI-Subject"))
		}
	}
	list := func(q string) (ocispec.Index, http.Header) {
		resp := r.do("GET", "/v2/ref/referrers/"+im.manifestD.String()+q, nil)
		b := r.expect(resp, http.StatusOK, "")
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Type") != ocispec.MediaTypeImageIndex {
			t.Fatalf("referrers Content-Type %q", resp.Header.Get("Content-Type"))
		}
		return idx, resp.Header
	}
	idx, h := list("")
	if len(idx.Manifests) != 2 || h.Get("OCI-Filters-Applied") != "" {
		t.Fatalf("referrers: %+v", idx)
	}
	idx, h = list("?artifactType=application/vnd.example.sbom")
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != digest.FromBytes(sbom) || idx.Manifests[0].Annotations["note"] != "b" || h.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered referrers: %+v %v", idx, h)
	}
	// No referrers: an empty index. A missing subject is fine to push.
	r.expect(r.do("GET", "/v2/ref/referrers/"+digest.FromString("none").String(), nil), http.StatusOK, "")
	r.expect(r.do("GET", "/v2/ref/referrers/bogus", nil), http.StatusBadRequest, "DIGEST_INVALID")
	// Deleting a referrer removes it from the list.
	r.expect(r.do("DELETE", "/v2/ref/manifests/"+digest.FromBytes(sig).String(), nil), http.StatusAccepted, "")
	if idx, _ := list(""); len(idx.Manifests) != 1 {
		t.Fatalf("after delete: %+v", idx)
	}
}
