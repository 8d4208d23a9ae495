package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Output is where --output sends the result's files.
type Output struct {
	Type string    // "local" or "tar"
	Dest string    // a directory (local), a file or "-" (tar)
	W    io.Writer // the stream for Dest "-"
}

// ParseOutput parses docker's --output value: "type=local,dest=DIR",
// "type=tar,dest=FILE", or a bare path (local).
func ParseOutput(s string) (*Output, error) {
	o := &Output{}
	if !strings.Contains(s, "=") {
		o.Type, o.Dest = "local", s
		if s == "-" {
			o.Type = "tar"
		}
		return o, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		default:
			return nil, errdefs.InvalidArgumentf("--output: unknown key %q", k)
		}
	}
	switch o.Type {
	case "local", "tar":
	case "":
		return nil, errdefs.InvalidArgumentf("--output: type is required")
	default:
		return nil, errdefs.InvalidArgumentf("--output: type %q is not supported (local, tar)", o.Type)
	}
	if o.Dest == "" {
		return nil, errdefs.InvalidArgumentf("--output: dest is required")
	}
	return o, nil
}

// exportFiles writes the target's root filesystem to the output. The tar
// is written by the archive package (the "tar" type); "local" extracts
// that same stream into the directory.
func (j *job) exportFiles(ctx context.Context, st *state, cfg *Config) (*Result, error) {
	o := j.opts.Output
	v := j.prog.Start("exporting to client " + o.Type)
	dir, release, err := j.b.Snapshots.View(ctx, st.chainID)
	if err != nil {
		v.Finish(err)
		return nil, err
	}
	defer release()
	if j.b.Tar == nil {
		err := errdefs.NotImplementedf("--output needs a tar writer")
		v.Finish(err)
		return nil, err
	}
	switch o.Type {
	case "tar":
		w := o.W
		if o.Dest != "-" {
			f, err := os.Create(o.Dest)
			if err != nil {
				v.Finish(err)
				return nil, err
			}
			defer f.Close()
			w = f
		}
		if err = j.b.Tar(ctx, w, dir, j.opts.SourceDateEpoch); err == nil {
			if f, ok := w.(*os.File); ok && o.Dest != "-" {
				err = f.Close()
			}
		}
	case "local":
		if err = os.MkdirAll(o.Dest, 0o755); err != nil {
			break
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(j.b.Tar(ctx, pw, dir, j.opts.SourceDateEpoch)) }()
		if j.b.Unpacker == nil {
			err = errdefs.NotImplementedf("--output type=local needs an unpacker")
		} else {
			abs, _ := filepath.Abs(o.Dest)
			_, err = j.b.Unpacker.Unpack(ctx, func() (string, error) { return abs, nil }, pr)
		}
		pr.CloseWithError(io.EOF)
	}
	if err != nil {
		err = fmt.Errorf("exporting to %s %s: %w", o.Type, o.Dest, err)
		v.Finish(err)
		return nil, err
	}
	v.Finish(nil)
	return &Result{Config: configBytes(cfg), ID: configID(cfg)}, nil
}
