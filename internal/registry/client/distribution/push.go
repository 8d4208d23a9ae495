package distribution

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PushOptions tune Push.
type PushOptions struct {
	Parallel int // concurrent uploads (0: 5)
	Progress client.ProgressFunc
	// Compression of layers stored uncompressed: "gzip" (default) or "zstd".
	Compression string
}

// PushedTag is one pushed tag, as docker reports it
// ("TAG: digest: sha256:... size: N").
type PushedTag struct {
	Tag    string
	Digest digest.Digest
	Size   int64
}

// Push pushes name:tag, or every local tag of name's repository when name
// has no tag. pushed is called after each tag (may be nil).
func Push(ctx context.Context, c *client.Client, st *images.Store, name reference.Named, opts PushOptions, pushed func(PushedTag)) ([]PushedTag, error) {
	if reference.Digest(name) != "" {
		return nil, errdefs.InvalidArgumentf("cannot push a digest reference (%s): push a tag", reference.Familiar(name))
	}
	var tags []string
	if t := reference.Tag(name); t != "" {
		tags = []string{t}
	} else {
		var err error
		if tags, err = localTags(ctx, st, name); err != nil {
			return nil, err
		}
	}
	ctx, done, err := st.WithLease(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	repo := c.Repository(name)
	mounts, err := mountSources(ctx, st, name)
	if err != nil {
		return nil, err
	}
	var out []PushedTag
	for _, tag := range tags {
		tagged, err := reference.WithTag(name, tag)
		if err != nil {
			return out, err
		}
		full, err := st.Get(ctx, tagged.String())
		if errdefs.IsNotFound(err) {
			return out, errdefs.NotFoundf("An image does not exist locally with the tag: %s", reference.FamiliarName(name))
		}
		if err != nil {
			return out, err
		}
		desc, err := pushManifestFor(ctx, st, full, opts)
		if err != nil {
			return out, err
		}
		got, err := client.Push(ctx, st.Blobs(), repo, desc, tag, client.PushOptions{
			Parallel: opts.Parallel, Progress: opts.Progress,
			MountFrom: func(d digest.Digest) []string { return mounts[d] },
		})
		if err != nil {
			return out, err
		}
		canonical, err := reference.WithDigest(name, got.Digest)
		if err != nil {
			return out, err
		}
		if err := st.AddRepoDigest(ctx, full.ID, canonical.String(), &got); err != nil {
			return out, err
		}
		pt := PushedTag{Tag: tag, Digest: got.Digest, Size: got.Size}
		out = append(out, pt)
		if pushed != nil {
			pushed(pt)
		}
	}
	return out, nil
}

// localTags lists the tags of name's repository in st.
func localTags(ctx context.Context, st *images.Store, name reference.Named) ([]string, error) {
	list, err := st.List(ctx, images.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, img := range list {
		for _, n := range img.Names {
			p, err := reference.ParseNamed(n)
			if err != nil || p.Name() != name.Name() || reference.Tag(p) == "" {
				continue
			}
			tags = append(tags, reference.Tag(p))
		}
	}
	if len(tags) == 0 {
		return nil, errdefs.NotFoundf("An image does not exist locally with the tag: %s", reference.FamiliarName(name))
	}
	sort.Strings(tags)
	return tags, nil
}

// mountSources maps blobs to the repositories of the target registry known
// to hold them: those named by the repo digests of every local image (pulled
// from or pushed to there) whose layers use the blob. A layer is keyed by
// its stored blob and by the layer blobs of the manifests those repo digests
// name (a layer built or imported locally is stored uncompressed and was
// pushed as the compressed blob its manifest lists).
func mountSources(ctx context.Context, st *images.Store, target reference.Named) (map[digest.Digest][]string, error) {
	list, err := st.List(ctx, images.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest][]string{}
	add := func(d digest.Digest, repo string) {
		if !slices.Contains(out[d], repo) {
			out[d] = append(out[d], repo)
		}
	}
	for _, img := range list {
		var repos []string
		for _, rd := range img.RepoDigests {
			p, err := reference.ParseNamed(rd)
			if err != nil || reference.Domain(p) != reference.Domain(target) || p.Name() == target.Name() {
				continue
			}
			repo := reference.Path(p)
			repos = append(repos, repo)
			if d := reference.Digest(p); d != "" {
				for _, l := range manifestLayers(ctx, st, d) {
					add(l, repo)
				}
			}
		}
		if len(repos) == 0 || img.ChainID == "" {
			continue
		}
		chain, err := st.LayerChain(ctx, img.ChainID)
		if err != nil {
			continue
		}
		for _, l := range chain {
			for _, r := range repos {
				add(l.Blob.Digest, r)
			}
		}
	}
	return out, nil
}

// manifestLayers lists the layer blobs of the stored image manifest d (none
// when it is not stored or not an image manifest).
func manifestLayers(ctx context.Context, st *images.Store, d digest.Digest) []digest.Digest {
	b, err := content.ReadBlob(ctx, st.Blobs(), d, client.MaxManifestSize)
	if err != nil {
		return nil
	}
	var man ocispec.Manifest
	if json.Unmarshal(b, &man) != nil {
		return nil
	}
	var out []digest.Digest
	for _, l := range man.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// pushManifestFor returns the manifest to push for an image: a stored
// distribution manifest of this image whose blobs are all present (pushed
// unchanged, keeping its digest; with zstd compression asked for, only one
// whose layers are all zstd), else a new one (stored in content).
func pushManifestFor(ctx context.Context, st *images.Store, full *images.Full, opts PushOptions) (ocispec.Descriptor, error) {
	for _, m := range full.Manifests {
		if mediatype.IsIndex(m.MediaType) || !mediatype.IsManifest(m.MediaType) {
			continue
		}
		b, err := content.ReadBlob(ctx, st.Blobs(), m.Digest, client.MaxManifestSize)
		if err != nil {
			continue
		}
		var man ocispec.Manifest
		if json.Unmarshal(b, &man) != nil || man.Config.Digest != full.ID {
			continue
		}
		complete := len(man.Layers) == len(full.Layers)
		for _, l := range man.Layers {
			if ok, _ := content.Exists(ctx, st.Blobs(), l.Digest); !ok {
				complete = false
			}
			// zstd asked for: a stored manifest with other layers does not do.
			if opts.Compression == "zstd" && mediatype.LayerKind(l.MediaType) != mediatype.Zstd {
				complete = false
			}
		}
		if complete {
			return m, nil
		}
	}
	return buildManifest(ctx, st, full, opts)
}

// buildManifest writes a manifest for full: Docker schema2 with gzip layers,
// or OCI with zstd layers; layers stored uncompressed are compressed now.
func buildManifest(ctx context.Context, st *images.Store, full *images.Full, opts PushOptions) (ocispec.Descriptor, error) {
	useZstd := false
	switch opts.Compression {
	case "", "gzip":
	case "zstd":
		useZstd = true
	default:
		return ocispec.Descriptor{}, errdefs.InvalidArgumentf("unsupported compression %q (gzip or zstd)", opts.Compression)
	}
	var blobs []ocispec.Descriptor
	oci := useZstd
	for _, l := range full.Layers {
		b := l.Blob
		if kind := mediatype.LayerKind(b.MediaType); kind == mediatype.Tar || (useZstd && kind == mediatype.Gzip) {
			var err error
			if b, err = compressLayer(ctx, st, b, useZstd); err != nil {
				return ocispec.Descriptor{}, err
			}
		}
		oci = oci || mediatype.LayerKind(b.MediaType) == mediatype.Zstd // schema2 has no zstd
		blobs = append(blobs, b)
	}
	m := ocispec.Manifest{Config: full.ConfigDescriptor(), Layers: []ocispec.Descriptor{}}
	m.SchemaVersion = 2
	m.MediaType = ocispec.MediaTypeImageManifest
	if !oci {
		m.MediaType = mediatype.DockerManifest
		m.Config.MediaType = mediatype.DockerConfig
	}
	for _, b := range blobs {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: mediatype.Layer(mediatype.LayerKind(b.MediaType), oci), Digest: b.Digest, Size: b.Size})
	}
	raw, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if err := st.ClaimBlobs(ctx, desc.Digest); err != nil {
		return desc, err
	}
	if _, err := content.WriteBlob(ctx, st.Blobs(), bytes.NewReader(raw), desc.Size, desc.Digest); err != nil {
		return desc, err
	}
	return desc, nil
}

// compressLayer compresses a stored layer blob (decompressing first when it
// is gzip and zstd is wanted) into a new blob in the content store.
func compressLayer(ctx context.Context, st *images.Store, src ocispec.Descriptor, useZstd bool) (ocispec.Descriptor, error) {
	r, err := st.Blobs().Open(ctx, src.Digest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer blob %s: %w", src.Digest, err)
	}
	defer r.Close()
	var in io.Reader = r
	if mediatype.LayerKind(src.MediaType) == mediatype.Gzip {
		zr, err := pgzip.NewReader(r)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("layer blob %s: %w", src.Digest, err)
		}
		defer zr.Close()
		in = zr
	}
	pr, pw := io.Pipe()
	go func() {
		var w io.WriteCloser
		var err error
		if useZstd {
			w, err = zstd.NewWriter(pw, zstd.WithEncoderConcurrency(runtime.NumCPU()))
		} else {
			// fastest level, in parallel blocks: push time is dominated by
			// compression (level 1 is ~2x faster than docker's default 6
			// for ~10% more bytes)
			var gw *pgzip.Writer
			if gw, err = pgzip.NewWriterLevel(pw, pgzip.BestSpeed); err == nil {
				err = gw.SetConcurrency(1<<20, 2*runtime.NumCPU())
			}
			w = gw
		}
		if err == nil {
			_, err = io.Copy(w, in)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
	}()
	w, err := st.Blobs().Writer(ctx, digest.Canonical)
	if err != nil {
		pr.CloseWithError(err)
		return ocispec.Descriptor{}, err
	}
	defer w.Close()
	if _, err := io.Copy(w, pr); err != nil {
		pr.CloseWithError(err)
		return ocispec.Descriptor{}, fmt.Errorf("compressing layer %s: %w", src.Digest, err)
	}
	d := w.Digest()
	if err := st.ClaimBlobs(ctx, d); err != nil {
		return ocispec.Descriptor{}, err
	}
	info, err := w.Commit(ctx, -1, "")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	mt := mediatype.Layer(mediatype.Gzip, false)
	if useZstd {
		mt = mediatype.Layer(mediatype.Zstd, false)
	}
	return ocispec.Descriptor{MediaType: mt, Digest: info.Digest, Size: info.Size}, nil
}
