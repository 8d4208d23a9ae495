package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/builder"
	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"github.com/hoistproject/hoist/internal/builder/runc"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// BuildOptions are a build: the builder's options, but for its context and
// Dockerfile, which Build resolves from Source and Dockerfile.
type BuildOptions struct {
	builder.Options
	// Source is the context: a directory, an http(s) URL of a tar (or a
	// Dockerfile), or "-" for a tar (or a Dockerfile) on Stdin.
	Source string
	// Dockerfile is -f: a path ("" for Source/Dockerfile; in a context
	// from a stream, a name in it) or "-" for Stdin.
	Dockerfile string
	Stdin      io.Reader
	// Remote, when set, is the context instead of Source and Dockerfile:
	// one that stays on the client and is mirrored on request.
	Remote *RemoteContext
}

// buildRunner is the OCI runtime runner of the RUN steps of builds under
// the hoist root root: the engine's default runtime, as containers'.
func (e *Engine) buildRunner(root string) *runc.Runner {
	return &runc.Runner{Runtime: e.o.Runtime, Dir: filepath.Join(root, "build", "runc")}
}

// Build builds an image (images missing locally are pulled) and records a
// tag event for each of its tags.
func (e *Engine) Build(ctx context.Context, o BuildOptions) (*builder.Result, error) {
	st, err := e.images()
	if err != nil {
		return nil, err
	}
	b := builder.NewLocal(st, e.buildRunner(st.Root()))
	b.Logger = e.o.Logger
	// Images that are not local are pulled (FROM, COPY --from, --pull).
	rc, _, err := e.registryClient()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	src, opts := o.Source, o.Options
	b.Puller = builder.RegistryPuller{Client: rc, Store: st}

	// The context and the Dockerfile.
	extract := func(ctx context.Context, dir string, r io.Reader) error {
		dec, _, err := archive.DecompressStream(r)
		if err != nil {
			return err
		}
		defer dec.Close()
		_, err = archive.Apply(ctx, dir, dec, archive.ApplyOptions{})
		return err
	}
	tmpDir := filepath.Join(st.Root(), "build", "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return nil, err
	}
	if o.Remote != nil {
		dir, df, release, err := e.fetchRemote(ctx, tmpDir, o.Remote)
		if err != nil {
			return nil, err
		}
		defer release()
		src, o.Dockerfile = dir, df
	}
	var dfPath string
	switch {
	case src == "-" || isURL(src):
		var r io.Reader = o.Stdin
		if src != "-" {
			body, err := download(ctx, src, "invalid context URL", "downloading build context")
			if err != nil {
				return nil, err
			}
			defer body.Close()
			r = body
		}
		name := o.Dockerfile
		if name == "" {
			name = "Dockerfile"
		}
		sc, err := buildcontext.FromStream(ctx, r, buildcontext.StreamOptions{Extract: extract, TempDir: tmpDir, Dockerfile: name})
		if err != nil {
			return nil, err
		}
		defer sc.Close()
		opts.Context = sc.Context
		if sc.Dockerfile != nil {
			opts.Dockerfile = sc.Dockerfile
		} else {
			dfPath = filepath.Join(sc.Dir(), filepath.FromSlash(name))
		}
	default:
		dfPath = o.Dockerfile
		if dfPath == "" {
			dfPath = filepath.Join(src, "Dockerfile")
		}
		var dfData []byte
		if dfPath == "-" {
			if dfData, err = io.ReadAll(io.LimitReader(o.Stdin, 16<<20)); err != nil {
				return nil, err
			}
			dfPath = ""
		}
		bc, err := buildcontext.New(src, buildcontext.Options{Dockerfile: dfPath})
		if err != nil {
			return nil, err
		}
		defer bc.Close()
		opts.Context = bc
		if dfData != nil {
			opts.Dockerfile = dfData
		}
		sum := sha256.Sum256([]byte(bc.Dir()))
		opts.StatCache = buildcontext.OpenStatCache(filepath.Join(st.Root(), "build", "statcache", hex.EncodeToString(sum[:8])), bc.Dir())
	}
	if opts.Dockerfile == nil {
		b, err := os.ReadFile(dfPath)
		if err != nil {
			return nil, errdefs.InvalidArgumentf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %v", err)
		}
		opts.Dockerfile = b
		opts.DockerfileName = filepath.Base(dfPath)
	}

	res, err := b.Build(ctx, opts)
	if opts.StatCache != nil {
		_ = opts.StatCache.Save()
	}
	if err != nil {
		return nil, err
	}
	if opts.Output == nil { // an image is stored
		for _, t := range opts.Tags {
			e.events.Record("image", "tag", res.ID.String(), map[string]string{"name": t})
		}
	}
	return res, nil
}
