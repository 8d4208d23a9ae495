package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Globals are the flags every command shares.
type Globals struct {
	Root     string
	LogLevel string
	Debug    bool
}

// env is what every verb receives: the global options and the process's
// streams. Services (stores) are opened per command from Globals.Root.
type env struct {
	g      Globals
	in     io.Reader
	out    io.Writer
	errOut io.Writer
}

func (e *env) logger() *slog.Logger {
	lvl := slog.LevelWarn
	switch {
	case e.g.Debug:
		lvl = slog.LevelDebug
	case e.g.LogLevel != "":
		_ = lvl.UnmarshalText([]byte(e.g.LogLevel))
	}
	return slog.New(slog.NewTextHandler(e.errOut, &slog.HandlerOptions{Level: lvl}))
}

func defaultRoot() string {
	if r := os.Getenv("HOIST_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/hoist"
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".local", "share", "hoist")
	}
	return "/var/lib/hoist"
}

// Execute runs hoist with args and returns the process exit code.
func Execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	e := &env{in: in, out: out, errOut: errOut}
	root := newRootCommand(e)
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(ctx)
	return exitCode(err, errOut)
}

func newRootCommand(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "hoist [OPTIONS] COMMAND",
		Short:         "A daemonless, Docker-compatible container image engine",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Unknown commands and bad flags exit 125 like docker.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &flagError{cmd: c.CommandPath(), err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&e.g.Root, "root", defaultRoot(), "Root directory of the hoist store (env HOIST_ROOT)")
	pf.StringVarP(&e.g.LogLevel, "log-level", "l", "warn", `Set the logging level ("debug"|"info"|"warn"|"error")`)
	pf.BoolVarP(&e.g.Debug, "debug", "D", false, "Enable debug output")

	// Top-level verbs. Each constructor lives in its own file.
	root.AddCommand(newVersionCmd(e))
	root.AddCommand(newRegistryCmd(e))

	// `hoist image VERB`: docker's management-command forms of the image verbs.
	image := &cobra.Command{Use: "image", Short: "Manage images", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	root.AddCommand(image)

	// `hoist container VERB`.
	container := &cobra.Command{Use: "container", Short: "Manage containers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	root.AddCommand(container)

	// `hoist system VERB`.
	system := &cobra.Command{Use: "system", Short: "Manage hoist", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	root.AddCommand(system)
	return root
}
