package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/distribution"
)

// Tag gives the image source the name target and records the tag event
// (named target, as given).
func (e *Engine) Tag(ctx context.Context, source, target string) error {
	s, err := e.images()
	if err != nil {
		return err
	}
	if err := s.Tag(ctx, source, target); err != nil {
		return err
	}
	if img, err := s.Resolve(ctx, target); err == nil {
		e.events.Record("image", "tag", img.ID.String(), map[string]string{"name": target})
	}
	return nil
}

// RemoveImage is rmi of one reference: the names it untagged and the
// images it deleted, each recorded as an event.
func (e *Engine) RemoveImage(ctx context.Context, ref string, o images.DeleteOptions) ([]images.DeleteItem, error) {
	s, err := e.images()
	if err != nil {
		return nil, err
	}
	items, err := s.Delete(ctx, ref, o)
	e.deleteEvents(items)
	return items, err
}

// PruneImages removes unused images (images.Store.Prune), recording the
// untag and delete events of each.
func (e *Engine) PruneImages(ctx context.Context, o images.PruneOptions) (images.PruneReport, error) {
	s, err := e.images()
	if err != nil {
		return images.PruneReport{}, err
	}
	rep, err := s.Prune(ctx, o)
	e.deleteEvents(rep.Items)
	return rep, err
}

// deleteEvents records docker's untag and delete events of a removal.
func (e *Engine) deleteEvents(items []images.DeleteItem) {
	for _, it := range items {
		if it.Untagged != "" {
			e.events.Record("image", "untag", it.Untagged, map[string]string{"name": it.Untagged})
		}
		if it.Deleted != "" {
			e.events.Record("image", "delete", it.Deleted, map[string]string{"name": it.Deleted})
		}
	}
}

// ImportOptions are the options of Import.
type ImportOptions struct {
	images.ImportOptions
	// Platform is import's --platform ("" or linux[/...]).
	Platform string
}

// Import creates an image from a root filesystem tar: src is a file, an
// http(s) URL or "-" for stdin. It records the import event.
func (e *Engine) Import(ctx context.Context, src string, stdin io.Reader, o ImportOptions) (images.Image, error) {
	opts := o.ImportOptions
	opts.Source = "-"
	if opts.Name != "" {
		if _, err := images.NormalizeName(opts.Name); err != nil {
			return images.Image{}, err
		}
	}
	if o.Platform != "" && !strings.HasPrefix(o.Platform, "linux") {
		return images.Image{}, errdefs.InvalidArgumentf("unsupported platform %q", o.Platform)
	}
	var r io.Reader
	switch {
	case src == "-":
		r = stdin
	case isURL(src):
		body, err := download(ctx, src, "invalid URL", "fetching")
		if err != nil {
			return images.Image{}, err
		}
		defer body.Close()
		r = body
		opts.Source = src
	default:
		f, err := os.Open(src)
		if err != nil {
			return images.Image{}, fmt.Errorf("open %s: %w", src, err)
		}
		defer f.Close()
		r = f
	}
	s, err := e.images()
	if err != nil {
		return images.Image{}, err
	}
	img, err := s.Import(ctx, r, opts)
	if err != nil {
		return images.Image{}, err
	}
	e.events.Record("image", "import", img.ID.String(), nil)
	return img, nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// download GETs url; bad names the URL's refusal ("invalid URL %q: ..."),
// doing the failure's ("fetching URL: ...").
func download(ctx context.Context, url, bad, doing string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("%s %q: %v", bad, url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", doing, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %s", doing, url, resp.Status)
	}
	return resp.Body, nil
}

// LoadOptions are the options of Load.
type LoadOptions struct {
	// Input is an archive file or an OCI layout directory; "" reads Stdin.
	Input string
	Stdin io.Reader
	// Progress, Loaded and Moved are images.LoadOptions'.
	Progress func(member string, current, total int64)
	Loaded   func(img images.Image, names []reference.Named)
	// Moved is called for a name moved from another image (its ID).
	Moved func(name reference.Named, oldID string)
}

// Load loads an image archive (plain or compressed) or an OCI layout
// directory, recording a load event for each image.
func (e *Engine) Load(ctx context.Context, o LoadOptions) error {
	st, err := e.images()
	if err != nil {
		return err
	}
	lo := images.LoadOptions{Progress: o.Progress, Loaded: func(img images.Image, names []reference.Named) {
		e.events.Record("image", "load", img.ID.String(), nil)
		if o.Loaded != nil {
			o.Loaded(img, names)
		}
	}}
	if o.Moved != nil {
		lo.Moved = func(name reference.Named, old digest.Digest) { o.Moved(name, old.String()) }
	}
	if fi, err := os.Stat(o.Input); o.Input != "" && err == nil && fi.IsDir() {
		return st.LoadDir(ctx, o.Input, lo)
	}
	r := o.Stdin
	if o.Input != "" {
		f, err := os.Open(o.Input)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	dr, _, err := archive.DecompressStream(r)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer dr.Close()
	return st.Load(ctx, dr, lo)
}

// SelectForSave resolves save's arguments (a repository name alone: all
// its tags) into the set that Save writes.
func (e *Engine) SelectForSave(ctx context.Context, refs []string) (images.SaveSet, error) {
	st, err := e.images()
	if err != nil {
		return images.SaveSet{}, err
	}
	return st.SelectForSave(ctx, refs)
}

// Save writes the images of set to w as one archive.
func (e *Engine) Save(ctx context.Context, w io.Writer, set images.SaveSet) error {
	st, err := e.images()
	if err != nil {
		return err
	}
	return st.Save(ctx, w, set)
}

// PushOptions are the options of Push.
type PushOptions struct {
	// Compression of layers stored uncompressed ("gzip" or "zstd").
	Compression string
	Progress    client.ProgressFunc
	// Pushed, if set, is called with each tag pushed.
	Pushed func(distribution.PushedTag)
	// Auth, when set, is the registry login to use instead of the stored
	// ones (the Engine API's X-Registry-Auth).
	Auth *AuthConfig
}

// Push pushes n (every local tag of its repository without a tag),
// recording a push event for each tag.
func (e *Engine) Push(ctx context.Context, n reference.Named, o PushOptions) error {
	st, err := e.images()
	if err != nil {
		return err
	}
	c, _, err := e.registry(o.Auth)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = distribution.Push(ctx, c, st, n, distribution.PushOptions{Progress: o.Progress, Compression: o.Compression},
		func(p distribution.PushedTag) {
			if r, err := reference.WithTag(n, p.Tag); err == nil {
				e.events.Record("image", "push", r.String(), map[string]string{"name": r.String()})
			}
			if o.Pushed != nil {
				o.Pushed(p)
			}
		})
	return err
}
