package imagearchive

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxMetadataSize bounds the JSON members (manifest.json, index.json,
// repositories) and the manifests and configs read while resolving.
const MaxMetadataSize = 16 << 20

// Loaded is one image found in an archive; its blobs are in the store.
type Loaded struct {
	Config ocispec.Descriptor
	// Layers are the layer blobs as stored, bottom first; MediaType tells
	// whether a blob is compressed.
	Layers []ocispec.Descriptor
	// Names are the tags the archive gives the image (may be empty).
	Names []reference.Named
	// Staged are the layers unpacked while their blobs were stored
	// (Options.Stage), by blob digest; one map shared by every image of
	// the load. Pass it to the layer store (layers.Store.CreateChain)
	// and Discard what is left afterwards (DiscardStaged).
	Staged map[digest.Digest]*layers.Staged
}

// DiscardStaged removes the staged layers no image consumed.
func DiscardStaged(loaded []Loaded) {
	for _, img := range loaded {
		for _, p := range img.Staged {
			p.Discard()
		}
	}
}

// Store is what loading needs: write blobs, read the small ones back, and
// delete what an aborted load added.
type Store interface {
	content.Provider
	content.Ingester
	content.Manager
}

// loader keeps the state of one load: the archive's namespace of member
// paths, mapped to blob digests or to link targets.
type loader struct {
	store   Store
	blobs   map[string]digest.Digest // cleaned member path -> digest
	links   map[string]string        // cleaned member path -> cleaned target path
	meta    map[string][]byte        // small JSON members at the archive root
	added   []digest.Digest          // blobs this load created (not found stored)
	onBlob  func(name string, current, total int64)
	claim   func(ctx context.Context, d digest.Digest) error
	discard func(ctx context.Context, blobs []digest.Digest) error

	stage   func(ctx context.Context, r io.Reader) (*layers.Staged, error)
	slots   chan struct{}                    // speculations running
	chunks  chan []byte                      // free chunks of their pipes
	pending []pendingSpec                    // speculations of stored members
	staged  map[digest.Digest]*layers.Staged // their results, once resolved
}

var metaMembers = map[string]bool{"manifest.json": true, "index.json": true, "repositories": true, "oci-layout": true}

// Options tune a load.
type Options struct {
	// Progress, if set, is called while each blob member is stored, with
	// the bytes stored so far and the member's size.
	Progress func(member string, current, total int64)
	// Claim, if set, is called with each blob's digest before the blob
	// becomes visible (and for blobs already stored), so that the caller can
	// protect it from a concurrent prune until an image record names it.
	Claim func(ctx context.Context, d digest.Digest) error
	// Discard, if set, is given the blobs this load created (never those
	// it found already stored) that no loaded image uses: all of them when
	// the load fails. It removes those that nothing else uses, deciding
	// under the same rules that protect stored images
	// (images.Store.DiscardBlobs). Unset, they are deleted from the store
	// directly: only for a store no other image or process uses.
	Discard func(ctx context.Context, blobs []digest.Digest) error
	// Stage, if set, unpacks a layer from r (layers.Store.Stage, its blob stored by the load). It is
	// started, in its own goroutine, for each new blob member that looks
	// like a layer (a tar, gzip or zstd stream), and fed the member's bytes
	// as they are stored: the archive is read once, and the layer is
	// unpacked while its blob is hashed and written. Results come back in
	// Loaded.Staged. An error only loses the head start: the layer is
	// then unpacked from its stored blob, which reports the error.
	Stage func(ctx context.Context, r io.Reader) (*layers.Staged, error)
}

func newLoader(s Store, opts Options) *loader {
	claim := opts.Claim
	if claim == nil {
		claim = func(context.Context, digest.Digest) error { return nil }
	}
	discard := opts.Discard
	if discard == nil {
		discard = func(ctx context.Context, blobs []digest.Digest) error {
			for _, d := range blobs {
				_ = s.Delete(ctx, d)
			}
			return nil
		}
	}
	return &loader{store: s, blobs: map[string]digest.Digest{}, links: map[string]string{}, meta: map[string][]byte{}, onBlob: opts.Progress, claim: claim, discard: discard,
		stage: opts.Stage, slots: make(chan struct{}, maxSpeculative), chunks: make(chan []byte, maxSpeculative*(chunkQueue+2))}
}

// Load reads an uncompressed archive stream (see the package doc) into the
// store and returns the images it holds. On error, blobs it added are removed.
func Load(ctx context.Context, r io.Reader, s Store, opts Options) (loaded []Loaded, retErr error) {
	l := newLoader(s, opts)
	defer func() { l.finish(ctx, loaded, retErr) }()
	tr := tar.NewReader(bufio.NewReaderSize(r, 1<<20))
	sawMember := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !sawMember {
				return nil, errdefs.InvalidArgumentf("invalid archive: not a tar stream: %v", err)
			}
			return nil, errdefs.InvalidArgumentf("invalid archive: truncated or corrupt tar: %v", err)
		}
		sawMember = true
		if err := archive.RejectSparse(hdr); err != nil {
			return nil, fmt.Errorf("invalid archive: %w", err)
		}
		name := cleanMember(hdr.Name)
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if err := l.member(ctx, name, hdr.Size, tr); err != nil {
				return nil, err
			}
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			l.links[name] = cleanMember(target)
		case tar.TypeLink:
			l.links[name] = cleanMember(hdr.Linkname)
		}
	}
	if !sawMember {
		return nil, errdefs.InvalidArgumentf("invalid archive: empty tar stream")
	}
	return l.resolve(ctx)
}

// LoadDir loads an OCI image layout directory.
func LoadDir(ctx context.Context, dir string, s Store, opts Options) (loaded []Loaded, retErr error) {
	l := newLoader(s, opts)
	defer func() { l.finish(ctx, loaded, retErr) }()
	for m := range metaMembers {
		if b, err := readLimited(filepath.Join(dir, m)); err == nil {
			l.meta[m] = b
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if l.meta["index.json"] == nil && l.meta["manifest.json"] == nil {
		return nil, errdefs.InvalidArgumentf("%s: not an image layout: no index.json or manifest.json", dir)
	}
	blobsDir := filepath.Join(dir, "blobs")
	err := filepath.WalkDir(blobsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		return l.member(ctx, filepath.ToSlash(rel), st.Size(), f)
	})
	if err != nil {
		return nil, err
	}
	return l.resolve(ctx)
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxMetadataSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMetadataSize {
		return nil, errdefs.InvalidArgumentf("%s: larger than the %d MiB limit for metadata", filepath.Base(p), MaxMetadataSize>>20)
	}
	return b, nil
}

// cleanMember normalises a member path to the archive's own namespace: no
// leading ./ or /, no .. escaping the root ("" when it would).
func cleanMember(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

// blobMember splits an OCI layout member name blobs/ALG/HEX (sha256 or
// sha512, lowercase hex).
func blobMember(name string) (alg, hex string, ok bool) {
	rest, ok := strings.CutPrefix(name, "blobs/")
	if !ok {
		return "", "", false
	}
	alg, hex, ok = strings.Cut(rest, "/")
	if !ok || (alg != "sha256" && alg != "sha512") || !isLowerHex(hex) {
		return "", "", false
	}
	return alg, hex, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

func (l *loader) member(ctx context.Context, name string, size int64, r io.Reader) error {
	if metaMembers[name] {
		if size > MaxMetadataSize {
			return errdefs.InvalidArgumentf("invalid archive: %s is %d bytes, over the %d MiB limit for metadata", name, size, MaxMetadataSize>>20)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return errdefs.InvalidArgumentf("invalid archive: reading %s: %v", name, err)
		}
		l.meta[name] = b
		return nil
	}
	var expected digest.Digest
	if alg, hex, ok := blobMember(name); ok {
		expected = digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
		if err := expected.Validate(); err != nil {
			return errdefs.InvalidArgumentf("invalid archive: member %s: %v", name, err)
		}
		if err := l.claim(ctx, expected); err != nil {
			return err
		}
		if ok, _ := content.Exists(ctx, l.store, expected); ok {
			// Already stored and verified: the member's bytes are not needed.
			if _, err := io.Copy(io.Discard, r); err != nil {
				return errdefs.InvalidArgumentf("invalid archive: reading %s: %v", name, err)
			}
			l.blobs[name] = expected
			return nil
		}
	}
	var src io.Reader = archiveReader{r}
	if l.onBlob != nil {
		l.onBlob(name, 0, size)
		src = &progressReader{r: src, name: name, total: size, fn: l.onBlob}
	}
	var spec *speculation
	if l.stage != nil && (expected == "" || expected.Algorithm() == digest.Canonical) {
		var err error
		if src, spec, err = l.speculate(ctx, src); err != nil {
			return fmt.Errorf("invalid archive: member %s: %w", name, err)
		}
	}
	info, created, err := l.write(ctx, src, size, expected)
	if spec != nil {
		spec.finish(err)
		if err != nil {
			spec.wait().Discard()
		} else {
			l.pending = append(l.pending, pendingSpec{info.Digest, spec})
		}
	}
	if err != nil {
		return fmt.Errorf("invalid archive: member %s: %w", name, err)
	}
	if created {
		l.added = append(l.added, info.Digest)
	}
	l.blobs[name] = info.Digest
	if l.onBlob != nil {
		l.onBlob(name, size, size)
	}
	return nil
}

// lookup resolves a member path (following links inside the archive) to the
// digest of its content.
func (l *loader) lookup(p string) (digest.Digest, error) {
	name := cleanMember(p)
	for i := 0; i < 16; i++ {
		if d, ok := l.blobs[name]; ok {
			return d, nil
		}
		t, ok := l.links[name]
		if !ok {
			return "", errdefs.InvalidArgumentf("invalid archive: %q is not in the archive", p)
		}
		name = t
	}
	return "", errdefs.InvalidArgumentf("invalid archive: %q: too many levels of links", p)
}

// lookupBlob resolves the OCI layout member of a digest named in the
// archive's JSON; a malformed digest is an error, not a path.
func (l *loader) lookupBlob(d digest.Digest) (digest.Digest, error) {
	if err := d.Validate(); err != nil {
		return "", errdefs.InvalidArgumentf("invalid archive: digest %q: %v", d, err)
	}
	return l.lookup(blobPath(d))
}

func (l *loader) resolve(ctx context.Context) (out []Loaded, err error) {
	l.staged = l.stagedOf()
	switch {
	case l.meta["manifest.json"] != nil:
		out, err = l.resolveDocker(ctx, l.meta["manifest.json"])
	case l.meta["index.json"] != nil:
		out, err = l.resolveOCI(ctx, l.meta["index.json"])
	default:
		return nil, errdefs.InvalidArgumentf("invalid archive: no manifest.json or index.json found")
	}
	for i := range out {
		out[i].Staged = l.staged
	}
	return out, err
}

func (l *loader) resolveDocker(ctx context.Context, b []byte) ([]Loaded, error) {
	var entries []dockerManifestEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, errdefs.InvalidArgumentf("invalid archive: manifest.json: %v", err)
	}
	var out []Loaded
	for i, e := range entries {
		cd, err := l.lookup(e.Config)
		if err != nil {
			return nil, fmt.Errorf("manifest.json entry %d: config: %w", i, err)
		}
		// a config named HEX.json (docker save's) must hash to HEX
		if hex, ok := strings.CutSuffix(path.Base(cleanMember(e.Config)), ".json"); ok && len(hex) == 64 && isLowerHex(hex) && hex != cd.Encoded() {
			return nil, errdefs.DataLossf("invalid archive: config %s: content digest is %s", e.Config, cd)
		}
		info, err := l.store.Info(ctx, cd)
		if err != nil {
			return nil, err
		}
		img := Loaded{Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: info.Size}}
		for _, lp := range e.Layers {
			ld, err := l.lookup(lp)
			if err != nil {
				return nil, fmt.Errorf("manifest.json entry %d: layer: %w", i, err)
			}
			desc, err := l.layerDesc(ctx, ld)
			if err != nil {
				return nil, err
			}
			img.Layers = append(img.Layers, desc)
		}
		for _, t := range e.RepoTags {
			n, err := reference.ParseTagged(t)
			if err != nil {
				return nil, fmt.Errorf("manifest.json entry %d: RepoTags: %w", i, err)
			}
			img.Names = append(img.Names, n)
		}
		out = append(out, img)
	}
	return out, nil
}

func (l *loader) resolveOCI(ctx context.Context, b []byte) ([]Loaded, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, errdefs.InvalidArgumentf("invalid archive: index.json: %v", err)
	}
	var out []Loaded
	byConfig := map[digest.Digest]int{}
	var walk func(descs []ocispec.Descriptor, depth int) error
	walk = func(descs []ocispec.Descriptor, depth int) error {
		if depth > 4 {
			return errdefs.InvalidArgumentf("invalid archive: index nesting too deep")
		}
		for _, d := range descs {
			if _, err := l.lookupBlob(d.Digest); err != nil {
				return fmt.Errorf("index.json: manifest %s: %w", d.Digest, err)
			}
			raw, err := content.ReadBlob(ctx, l.store, d.Digest, MaxMetadataSize)
			if err != nil {
				return err
			}
			switch d.MediaType {
			case ocispec.MediaTypeImageIndex, mediatype.DockerManifestList:
				var sub ocispec.Index
				if err := json.Unmarshal(raw, &sub); err != nil {
					return errdefs.InvalidArgumentf("invalid archive: index %s: %v", d.Digest, err)
				}
				var pick []ocispec.Descriptor
				for _, m := range sub.Manifests {
					if m.Platform == nil || (m.Platform.OS == "linux" && m.Platform.Architecture == hostArch()) {
						pick = append(pick, m)
						break
					}
				}
				if err := walk(pick, depth+1); err != nil {
					return err
				}
				continue
			}
			var mf ocispec.Manifest
			if err := json.Unmarshal(raw, &mf); err != nil {
				return errdefs.InvalidArgumentf("invalid archive: manifest %s: %v", d.Digest, err)
			}
			if _, err := l.lookupBlob(mf.Config.Digest); err != nil {
				return fmt.Errorf("manifest %s: config: %w", d.Digest, err)
			}
			i, seen := byConfig[mf.Config.Digest]
			if !seen {
				img := Loaded{Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: mf.Config.Digest, Size: mf.Config.Size}}
				for _, ld := range mf.Layers {
					if _, err := l.lookupBlob(ld.Digest); err != nil {
						return fmt.Errorf("manifest %s: layer: %w", d.Digest, err)
					}
					desc, err := l.layerDesc(ctx, ld.Digest)
					if err != nil {
						return err
					}
					img.Layers = append(img.Layers, desc)
				}
				out = append(out, img)
				i = len(out) - 1
				byConfig[mf.Config.Digest] = i
			}
			if n := ociName(d.Annotations); n != nil {
				out[i].Names = append(out[i].Names, n)
			}
		}
		return nil
	}
	if err := walk(idx.Manifests, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// ociName reads an image name from index annotations: containerd's full name,
// or a ref.name that is itself a full reference (podman, skopeo).
func ociName(a map[string]string) reference.Named {
	if s := a["io.containerd.image.name"]; s != "" {
		if n, err := reference.ParseTagged(s); err == nil {
			return n
		}
	}
	if s := a[ocispec.AnnotationRefName]; strings.ContainsAny(s, "/:") {
		if n, err := reference.ParseTagged(s); err == nil {
			return n
		}
	}
	return nil
}

// layerDesc describes a stored layer blob, sniffing its compression.
func (l *loader) layerDesc(ctx context.Context, d digest.Digest) (ocispec.Descriptor, error) {
	info, err := l.store.Info(ctx, d)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	r, err := l.store.Open(ctx, d)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer r.Close()
	head := make([]byte, 6)
	n, _ := io.ReadFull(r, head)
	head = head[:n]
	mt := mediatype.Layer(archive.DetectCompression(head).String(), true)
	return ocispec.Descriptor{MediaType: mt, Digest: d, Size: info.Size}, nil
}

// finish gives the blobs this load created that no loaded image uses (all
// of them after a failed load) to discard, which removes those nothing else
// uses.
func (l *loader) finish(ctx context.Context, loaded []Loaded, err error) {
	keep := map[digest.Digest]bool{}
	if err == nil {
		for _, img := range loaded {
			keep[img.Config.Digest] = true
			for _, d := range img.Layers {
				keep[d.Digest] = true
			}
		}
	}
	var drop []digest.Digest
	for _, d := range l.added {
		if !keep[d] && !slices.Contains(drop, d) {
			drop = append(drop, d)
		}
	}
	_ = l.discard(context.WithoutCancel(ctx), drop)
	if l.staged == nil { // failed before resolving
		l.staged = l.stagedOf()
	}
	for d, p := range l.staged {
		if !keep[d] {
			p.Discard()
			delete(l.staged, d)
		}
	}
}

// archiveReader classes read errors of the archive stream (truncation,
// corruption) as invalid input, apart from errors of the store.
type archiveReader struct{ r io.Reader }

func (a archiveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		err = errdefs.InvalidArgumentf("truncated or corrupt archive: %v", err)
	}
	return n, err
}

// progressReader reports progress about every 4 MiB.
type progressReader struct {
	r       io.Reader
	name    string
	n, last int64
	total   int64
	fn      func(string, int64, int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.last >= 4<<20 {
		p.last = p.n
		p.fn(p.name, p.n, p.total)
	}
	return n, err
}

// write stores one blob, claiming its digest before it becomes visible.
// created is false when the blob was already stored (an archive member not
// named by its digest, such as docker's <id>/layer.tar): then this write
// did not create it, and a rollback of the load must not remove it.
func (l *loader) write(ctx context.Context, r io.Reader, size int64, expected digest.Digest) (_ content.Info, created bool, _ error) {
	alg := digest.Canonical
	if expected != "" {
		alg = expected.Algorithm()
	}
	w, err := l.store.Writer(ctx, alg)
	if err != nil {
		return content.Info{}, false, err
	}
	defer w.Close()
	if _, err := io.CopyBuffer(w, r, make([]byte, 1<<20)); err != nil {
		return content.Info{}, false, err
	}
	d := w.Digest()
	if err := l.claim(ctx, d); err != nil {
		return content.Info{}, false, err
	}
	if (expected == "" || expected == d) && (size < 0 || size == w.Size()) {
		if info, err := l.store.Info(ctx, d); err == nil && info.Size == w.Size() {
			return info, false, nil // already stored: this copy is dropped
		}
	}
	info, err := w.Commit(ctx, size, expected)
	return info, err == nil, err
}
