package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxManifestSize is the largest manifest accepted (4 MiB, as registries).
const MaxManifestSize = 4 << 20

// Repository is one repository on a registry.
type Repository struct {
	c      *Client
	h      *host
	name   reference.Named
	path   string
	mirror bool
}

// Name is the repository's normalised name.
func (r *Repository) Name() reference.Named { return r.name }

// Registry is the registry host serving this repository (a mirror's host for
// mirror repositories).
func (r *Repository) Registry() string { return r.h.addr }

// IsMirror reports whether r is a configured mirror of Docker Hub.
func (r *Repository) IsMirror() bool { return r.mirror }

// Ref is the manifest reference of n for the API: its digest if any, else
// its tag, else "latest".
func Ref(n reference.Named) string {
	if d := reference.Digest(n); d != "" {
		return d.String()
	}
	if t := reference.Tag(n); t != "" {
		return t
	}
	return "latest"
}

func (r *Repository) pullScope() []auth.Scope {
	return []auth.Scope{auth.RepositoryScope(r.path, "pull")}
}

func (r *Repository) pushScope() []auth.Scope {
	return []auth.Scope{auth.RepositoryScope(r.path, "pull", "push")}
}

// url builds the URL of an API path under /v2/<name>/.
func (r *Repository) url(ctx context.Context, suffix string, q url.Values) (string, error) {
	base, err := r.c.ensure(ctx, r.h)
	if err != nil {
		return "", err
	}
	return endpoint(base, "/v2/"+r.path+"/"+suffix, q), nil
}

func (r *Repository) request(ctx context.Context, method, suffix string, q url.Values, body io.Reader) (*http.Request, error) {
	u, err := r.url(ctx, suffix, q)
	if err != nil {
		return nil, err
	}
	return http.NewRequestWithContext(ctx, method, u, body)
}

func acceptManifests(req *http.Request) {
	req.Header.Set("Accept", strings.Join(mediatype.Manifests(), ", "))
}

// Resolve finds the manifest descriptor of ref (a tag or a digest): a HEAD
// request, or a GET (verifying the digest of the bytes) when the registry
// does not answer HEAD with a digest and a manifest media type.
func (r *Repository) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	want, isDigest := refDigest(ref)
	req, err := r.request(ctx, http.MethodHead, "manifests/"+ref, nil, nil)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	acceptManifests(req)
	resp, err := r.c.do(ctx, r.h, req, r.pullScope())
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		mt := mediaType(resp.Header.Get("Content-Type"))
		dg := digest.Digest(resp.Header.Get("Docker-Content-Digest"))
		size := resp.ContentLength
		if size > MaxManifestSize {
			return ocispec.Descriptor{}, tooLarge(r.name, ref, size)
		}
		if dg.Validate() == nil && mediatype.IsManifest(mt) && size > 0 {
			if isDigest && dg != want {
				return ocispec.Descriptor{}, errdefs.DataLossf("manifest %s: registry %s answered with digest %s", describeRef(r.name, ref), r.h.addr, dg)
			}
			return ocispec.Descriptor{MediaType: mt, Digest: dg, Size: size}, nil
		}
	case resp.StatusCode == http.StatusNotFound:
		return ocispec.Descriptor{}, errdefs.NotFoundf("manifest for %s not found: manifest unknown: manifest unknown", describeRef(r.name, ref))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return ocispec.Descriptor{}, responseError(resp, "")
	}
	_, desc, err := r.GetManifest(ctx, ref)
	return desc, err
}

func refDigest(ref string) (digest.Digest, bool) {
	d := digest.Digest(ref)
	if strings.Contains(ref, ":") && d.Validate() == nil {
		return d, true
	}
	return "", false
}

func tooLarge(n reference.Named, ref string, size int64) error {
	return errdefs.InvalidArgumentf("manifest %s is %d bytes, over the %d-byte (4 MiB) limit", describeRef(n, ref), size, MaxManifestSize)
}

func mediaType(ct string) string {
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.TrimSpace(strings.SplitN(ct, ";", 2)[0])
	}
	return mt
}

// GetManifest fetches the manifest ref (tag or digest), at most 4 MiB, and
// returns its bytes and descriptor. The digest is computed from the bytes
// and must match ref when ref is a digest, and the registry's
// Docker-Content-Digest header when it sends one.
func (r *Repository) GetManifest(ctx context.Context, ref string) ([]byte, ocispec.Descriptor, error) {
	want, isDigest := refDigest(ref)
	req, err := r.request(ctx, http.MethodGet, "manifests/"+ref, nil, nil)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	acceptManifests(req)
	resp, err := r.c.do(ctx, r.h, req, r.pullScope())
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusNotFound {
			return nil, ocispec.Descriptor{}, responseError(resp, "manifest for "+describeRef(r.name, ref)+" not found")
		}
		return nil, ocispec.Descriptor{}, responseError(resp, "fetching manifest "+describeRef(r.name, ref))
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxManifestSize {
		return nil, ocispec.Descriptor{}, tooLarge(r.name, ref, resp.ContentLength)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("reading manifest %s: %w", describeRef(r.name, ref), err)
	}
	if len(b) > MaxManifestSize {
		return nil, ocispec.Descriptor{}, tooLarge(r.name, ref, int64(len(b)))
	}
	alg := digest.Canonical
	if isDigest {
		alg = want.Algorithm()
	}
	header := digest.Digest(resp.Header.Get("Docker-Content-Digest"))
	if !isDigest && header.Validate() == nil && header.Algorithm().Available() {
		alg = header.Algorithm()
	}
	got := alg.FromBytes(b)
	if isDigest && got != want {
		return nil, ocispec.Descriptor{}, errdefs.DataLossf("manifest %s from %s: content digest is %s", describeRef(r.name, ref), r.h.addr, got)
	}
	if header != "" && header.Validate() == nil && header.Algorithm() == alg && header != got {
		return nil, ocispec.Descriptor{}, errdefs.DataLossf("manifest %s from %s: registry says digest %s, content digest is %s", describeRef(r.name, ref), r.h.addr, header, got)
	}
	mt, err := manifestMediaType(resp.Header.Get("Content-Type"), b)
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w", describeRef(r.name, ref), err)
	}
	return b, ocispec.Descriptor{MediaType: mt, Digest: got, Size: int64(len(b))}, nil
}

// manifestMediaType decides a manifest's type from its Content-Type, else
// from its mediaType field, else from its shape.
func manifestMediaType(ct string, b []byte) (string, error) {
	var m struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     json.RawMessage   `json:"manifests"`
		Config        json.RawMessage   `json:"config"`
		FSLayers      []json.RawMessage `json:"fsLayers"`
	}
	jerr := json.Unmarshal(b, &m)
	mt := mediaType(ct)
	if !mediatype.IsManifest(mt) {
		mt = m.MediaType
	}
	if mt == mediatype.DockerSchema1 || mt == mediatype.DockerSchema1Signed || m.SchemaVersion == 1 || m.FSLayers != nil {
		return "", errdefs.NotImplementedf("Docker schema 1 manifests are not supported (push the image again with a current client)")
	}
	if mediatype.IsManifest(mt) {
		return mt, nil
	}
	if jerr != nil {
		return "", errdefs.InvalidArgumentf("not a manifest (Content-Type %q): %v", ct, jerr)
	}
	switch {
	case m.Manifests != nil:
		return ocispec.MediaTypeImageIndex, nil
	case m.Config != nil:
		return ocispec.MediaTypeImageManifest, nil
	}
	return "", errdefs.InvalidArgumentf("unsupported manifest media type %q", ct)
}

// FetchManifest fetches the manifest desc by digest and checks its size and
// digest.
func (r *Repository) FetchManifest(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > MaxManifestSize {
		return nil, tooLarge(r.name, desc.Digest.String(), desc.Size)
	}
	b, got, err := r.GetManifest(ctx, desc.Digest.String())
	if err != nil {
		return nil, err
	}
	if desc.Size > 0 && got.Size != desc.Size {
		return nil, errdefs.DataLossf("manifest %s: size %d, expected %d", desc.Digest, got.Size, desc.Size)
	}
	return b, nil
}

// PushManifest uploads a manifest under ref (a tag or its digest) and
// returns its descriptor. The registry's Docker-Content-Digest must agree.
func (r *Repository) PushManifest(ctx context.Context, ref, mediaType string, data []byte) (ocispec.Descriptor, error) {
	if len(data) > MaxManifestSize {
		return ocispec.Descriptor{}, tooLarge(r.name, ref, int64(len(data)))
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if d, ok := refDigest(ref); ok {
		desc.Digest = d.Algorithm().FromBytes(data)
		if desc.Digest != d {
			return ocispec.Descriptor{}, errdefs.InvalidArgumentf("manifest bytes have digest %s, not %s", desc.Digest, d)
		}
	}
	req, err := r.request(ctx, http.MethodPut, "manifests/"+ref, nil, bytes.NewReader(data))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := r.c.do(ctx, r.h, req, r.pushScope())
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return ocispec.Descriptor{}, responseError(resp, "pushing manifest "+describeRef(r.name, ref))
	}
	resp.Body.Close()
	if h := digest.Digest(resp.Header.Get("Docker-Content-Digest")); h != "" && h.Validate() == nil && h.Algorithm() == desc.Digest.Algorithm() && h != desc.Digest {
		return ocispec.Descriptor{}, errdefs.DataLossf("pushing manifest %s: registry stored digest %s, sent %s", describeRef(r.name, ref), h, desc.Digest)
	}
	return desc, nil
}

// Tags lists the repository's tags, following pagination links.
func (r *Repository) Tags(ctx context.Context) ([]string, error) {
	u, err := r.url(ctx, "tags/list", nil)
	if err != nil {
		return nil, err
	}
	var tags []string
	for page := 0; u != ""; page++ {
		if page > 100000 {
			return nil, fmt.Errorf("listing tags of %s: too many pages", reference.FamiliarName(r.name))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := r.c.do(ctx, r.h, req, r.pullScope())
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, responseError(resp, "listing tags of "+reference.FamiliarName(r.name))
		}
		var v struct {
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&v)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("listing tags of %s: invalid answer: %v", reference.FamiliarName(r.name), err)
		}
		tags = append(tags, v.Tags...)
		u = ""
		if next := nextLink(resp.Header); next != "" {
			nu, err := resp.Request.URL.Parse(next)
			if err != nil {
				return nil, fmt.Errorf("listing tags: invalid Link %q", next)
			}
			u = nu.String()
		}
	}
	return tags, nil
}

// nextLink extracts the rel="next" target of a Link header.
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if !strings.Contains(part, `rel="next"`) && !strings.Contains(part, "rel=next") {
				continue
			}
			if i, j := strings.IndexByte(part, '<'), strings.IndexByte(part, '>'); i >= 0 && j > i {
				return part[i+1 : j]
			}
		}
	}
	return ""
}

// parseRange parses an upload Range header "0-N" (or "bytes=0-N") into the
// next offset N+1; ok is false when absent.
func parseRange(h string) (int64, bool) {
	h = strings.TrimPrefix(strings.TrimSpace(h), "bytes=")
	_, end, found := strings.Cut(h, "-")
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(end, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n + 1, true
}
