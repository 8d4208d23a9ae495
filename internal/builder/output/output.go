package output

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Output is where --output sends the result's files.
type Output struct {
	Type string    // "local" or "tar"
	Dest string    // a directory (local), a file or "-" (tar)
	W    io.Writer // the stream for Dest "-"
}

// Parse parses docker's --output value: "type=local,dest=DIR",
// "type=tar,dest=FILE", or a bare path (local).
func Parse(s string) (*Output, error) {
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

// Tar writes the tree at dir as a tar stream, its times clamped to epoch
// when set (archive.Tar).
type Tar func(ctx context.Context, w io.Writer, dir string, epoch *time.Time) error

// Unpacker extracts a tar stream into the directory mkdir gives (the
// builder's ADD unpacker, copier.ArchiveUnpacker).
type Unpacker interface {
	Unpack(ctx context.Context, mkdir func() (string, error), r io.Reader) (bool, error)
}

// Write exports the tree at dir to o: the tar (type "tar") is written by
// tar; "local" extracts that same stream into the directory with u.
func (o *Output) Write(ctx context.Context, dir string, tar Tar, epoch *time.Time, u Unpacker) error {
	if tar == nil {
		return errdefs.NotImplementedf("--output needs a tar writer")
	}
	var err error
	switch o.Type {
	case "tar":
		w := o.W
		if o.Dest != "-" {
			f, err := os.Create(o.Dest)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		if err = tar(ctx, w, dir, epoch); err == nil {
			if f, ok := w.(*os.File); ok && o.Dest != "-" {
				err = f.Close()
			}
		}
	case "local":
		if err = os.MkdirAll(o.Dest, 0o755); err != nil {
			break
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tar(ctx, pw, dir, epoch)) }()
		if u == nil {
			err = errdefs.NotImplementedf("--output type=local needs an unpacker")
		} else {
			abs, _ := filepath.Abs(o.Dest)
			_, err = u.Unpack(ctx, func() (string, error) { return abs, nil }, pr)
		}
		pr.CloseWithError(io.EOF)
	}
	if err != nil {
		return fmt.Errorf("exporting to %s %s: %w", o.Type, o.Dest, err)
	}
	return nil
}
