package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
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
			o := engine.CopyOptions{Follow: follow, Archive: archiveMode}
			if srcCtr != "" {
				if dst == "-" {
					return e.engine().CopyFrom(cmd.Context(), srcCtr, src, follow, "", e.out)
				}
				return e.engine().CopyToHost(cmd.Context(), srcCtr, src, dst, o)
			}
			return e.engine().CopyFromHost(cmd.Context(), src, e.in, dstCtr, dst, o)
		},
	}
	c.Flags().BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	c.Flags().BoolVarP(&archiveMode, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	return c
}
