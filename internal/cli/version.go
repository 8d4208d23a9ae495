package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// Version is the hoist release; overridden at link time with -X.
const Version = "0.1.0-dev"

// apiVersion is the Docker Engine API version hoist's behaviour follows
// (docker 20.10's), for scripts that read .Client.ApiVersion.
const apiVersion = "1.41"

// versionInfo is `version`'s data, in docker's shape: hoist is its own
// engine (no daemon), so Server describes this same binary.
type versionInfo struct {
	Client versionClient
	Server versionServer
}

type versionClient struct {
	Version, ApiVersion, GitCommit, GoVersion, Os, Arch, Context string
}

type versionServer struct {
	Platform                                            struct{ Name string }
	Components                                          []versionComponent
	Version, ApiVersion, GitCommit, GoVersion, Os, Arch string
	KernelVersion                                       string
}

type versionComponent struct {
	Name, Version string
}

func newVersionCmd(e *env) *cobra.Command {
	var format string
	c := &cobra.Command{
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
			var uts unix.Utsname
			unix.Uname(&uts)
			v := versionInfo{
				Client: versionClient{Version: Version, ApiVersion: apiVersion, GitCommit: commit, GoVersion: runtime.Version(),
					Os: runtime.GOOS, Arch: runtime.GOARCH, Context: "default"},
				Server: versionServer{Version: Version, ApiVersion: apiVersion, GitCommit: commit, GoVersion: runtime.Version(),
					Os: runtime.GOOS, Arch: runtime.GOARCH, KernelVersion: unix.ByteSliceToString(uts.Release[:]),
					Components: []versionComponent{{Name: "Engine", Version: Version}}},
			}
			v.Server.Platform.Name = "hoist (daemonless)"
			if format != "" {
				return renderInspectOne(e, format, v)
			}
			fmt.Fprintf(e.out, "Client: hoist\n Version:           %s\n API version:       %s\n Go version:        %s\n Git commit:        %s\n OS/Arch:           %s/%s\n Context:           default\n\n",
				Version, apiVersion, runtime.Version(), commit, runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(e.out, "Server: %s\n Engine:\n  Version:          %s\n  API version:      %s\n  Go version:       %s\n  Git commit:       %s\n  OS/Arch:          %s/%s\n  Kernel version:   %s\n",
				v.Server.Platform.Name, Version, apiVersion, runtime.Version(), commit, runtime.GOOS, runtime.GOARCH, v.Server.KernelVersion)
			return nil
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return c
}
