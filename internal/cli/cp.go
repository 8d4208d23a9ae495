package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/container/cp"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// splitCpArg splits "CONTAINER:PATH"; a local path has no container part
// (a path starting with / or . is always local, as in docker).
func splitCpArg(a string) (ctr, p string) {
	if strings.HasPrefix(a, "/") || strings.HasPrefix(a, ".") {
		return "", a
	}
	if c, p, ok := strings.Cut(a, ":"); ok {
		return c, p
	}
	return "", a
}

func newCpCmd(e *env) *cobra.Command {
	var follow, archiveMode bool
	c := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  hoist cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcCtr, src := splitCpArg(args[0])
			dstCtr, dst := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errdefs.InvalidArgumentf("copying between containers is not supported")
			case srcCtr == "" && dstCtr == "":
				return errdefs.InvalidArgumentf("must specify at least one container source")
			}
			m, err := e.containers()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if srcCtr != "" {
				if dst == "-" {
					return m.CopyFrom(ctx, srcCtr, src, follow, "", e.out)
				}
				// Into an existing directory under the source's name, else
				// as the destination's name in its parent.
				target, name := dst, ""
				if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
					target, name = filepath.Dir(dst), filepath.Base(dst)
					if _, err := os.Stat(target); err != nil {
						return errdefs.NotFoundf("destination directory %s does not exist", target)
					}
				}
				pr, pw := io.Pipe()
				copied := make(chan error, 1)
				go func() {
					err := m.CopyFrom(ctx, srcCtr, src, follow, name, pw)
					copied <- err
					pw.CloseWithError(err)
				}()
				_, err := archive.Apply(ctx, target, pr, archive.ApplyOptions{NoSameOwner: !archiveMode})
				pr.CloseWithError(err)
				// The container's side names what went wrong there (no such
				// container, no such path) better than the tar reader does.
				if cerr := <-copied; cerr != nil && daemonSide(cerr) {
					return cerr
				}
				return err
			}
			var r io.Reader
			target := dst
			if src == "-" {
				r = e.in
			} else {
				name := filepath.Base(src)
				// An existing directory receives the source under its name;
				// otherwise the destination names the copy.
				if fi, err := m.Stat(ctx, dstCtr, dst); err != nil || !fi.IsDir() {
					target, name = filepath.Dir(dst), filepath.Base(dst)
				}
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(cp.TarHostPath(ctx, pw, src, name, follow, archiveMode)) }()
				r = pr
			}
			return m.CopyTo(ctx, dstCtr, target, r)
		},
	}
	c.Flags().BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	c.Flags().BoolVarP(&archiveMode, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	return c
}
