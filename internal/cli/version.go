package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is the hoist release; overridden at link time with -X.
const Version = "0.1.0-dev"

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the hoist version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			commit := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						commit = s.Value
					}
				}
			}
			fmt.Fprintf(e.out, "Client: hoist\n Version:     %s\n Go version:  %s\n Git commit:  %s\n OS/Arch:     %s/%s\n",
				Version, runtime.Version(), commit, runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
