package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/rootless"
)

// Globals are the flags every command shares.
type Globals struct {
	Root     string
	LogLevel string
	Debug    bool
	// Config is docker's --config: the directory of the client's
	// config.json (credentials); "" for $DOCKER_CONFIG or ~/.docker.
	Config string
}

// env is what every verb receives: the global options and the process's
// streams. Services (stores) are opened per command from Globals.Root.
type env struct {
	g      Globals
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	// fakes are the engine's options that tests give (engine.Options.Images).
	fakes engine.Options
	eng   *engine.Engine
	// detachKeys is the key sequence that detaches an attached terminal
	// (--detach-keys; docker's ctrl-p,ctrl-q by default).
	detachKeys []byte
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
	if os.Geteuid() == 0 && !rootless.Running() {
		return "/var/lib/hoist"
	}
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "hoist")
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".local", "share", "hoist")
	}
	return "/var/lib/hoist"
}

// Execute runs hoist with args and returns the process exit code.
// A user other than root first enters the user's rootless namespaces
// (package rootless), where hoist runs again with the same arguments.
func Execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	if len(args) > 0 && args[0] == rootless.HolderVerb {
		return rootless.Hold(args[1:])
	}
	if os.Geteuid() != 0 && !helpOnly(args) {
		return exitCode(rootless.Enter(args), errOut) // returns only on failure
	}
	if err := rootless.Resume(); err != nil {
		return exitCode(err, errOut)
	}
	return execute(ctx, &env{in: in, out: out, errOut: errOut}, args)
}

// helpOnly reports args that only print help or the version, which need
// no namespaces (nor a subordinate id range).
func helpOnly(args []string) bool {
	for _, a := range args {
		if a == "--help" || a == "--version" {
			return true
		}
	}
	if len(args) == 0 {
		return true
	}
	switch args[0] {
	case "version", "help", "-h", "-v":
		return true
	}
	return false
}

// execute runs hoist with a prepared env (tests inject services here).
func execute(ctx context.Context, e *env, args []string) int {
	in, out, errOut := e.in, e.out, e.errOut
	// The monitor, started by hoist itself for every container start in the
	// exact form container.Manager uses, skips building the command tree:
	// it is on the critical path of `run`.
	if len(args) == 4 && args[0] == "--root" && args[2] == monitorVerb {
		e.g = Globals{Root: args[1], LogLevel: "warn"}
		return exitCode(runMonitor(ctx, e, args[3]), errOut)
	}
	// So are the network helpers (the ports proxy, a network's resolver).
	if len(args) >= 4 && args[0] == "--root" && args[2] == engine.NetworkHelperVerb {
		return exitCode(engine.RunNetworkHelper(engine.Options{Root: args[1]}, args[3:], os.NewFile(3, "ready")), errOut)
	}
	// And the exec monitor, which waits for an exec -it's process.
	if len(args) >= 3 && args[0] == "--root" && args[2] == engine.ExecMonitorVerb {
		return engine.RunExecMonitor(args[3:])
	}
	root := newRootCommand(e, args)
	setHelp(root)
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(ctx)
	return exitCode(asUnknownCommand(root, args, err), errOut)
}

func newRootCommand(e *env, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "hoist [OPTIONS] COMMAND",
		Short:         "A daemonless, Docker-compatible container image engine",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Unknown commands and bad flags exit 125 like docker.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		// `hoist --version` / `-v` print one line, as `docker --version` does.
		Version: Version,
		// A relative --root is made absolute once: paths under it end up in
		// runtime bundles, overlay options and monitors with other cwds.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			abs, err := filepath.Abs(e.g.Root)
			if err != nil {
				return fmt.Errorf("--root %s: %w", e.g.Root, err)
			}
			e.g.Root = abs
			return nil
		},
	}
	root.SetVersionTemplate("hoist version {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &flagError{cmd: c.CommandPath(), err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&e.g.Root, "root", defaultRoot(), "Root directory of the hoist store (env HOIST_ROOT)")
	pf.StringVar(&e.g.LogLevel, "log-level", "warn", `Set the logging level ("debug"|"info"|"warn"|"error")`)
	pf.BoolVarP(&e.g.Debug, "debug", "D", false, "Enable debug output")
	pf.StringVar(&e.g.Config, "config", "", `Location of client config files (default $DOCKER_CONFIG or "~/.docker")`)

	// (No -l shorthand for --log-level: `ps -l` and `run -l` need it, and
	// cobra merges persistent flags into every subcommand.)

	// Top-level verbs. Each constructor lives in its own file. Only the
	// one named in args is built (it is on the critical path of every
	// command: the whole tree costs about a millisecond); all of them for
	// help, completion, a flag before the verb or an unknown verb.
	verbs := topVerbs()
	if build, ok := verbs[commandWord(pf, args)]; ok {
		root.AddCommand(build(e))
	} else {
		for _, build := range verbs {
			root.AddCommand(build(e))
		}
	}

	// The verbs whose failures docker reports as its daemon's.
	var answered []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if daemonVerb(sub.Name()) && sub.RunE != nil {
				answered = append(answered, sub)
			}
			walk(sub)
		}
	}
	walk(root)
	fromDaemon(answered...)
	return root
}

// verb builds a command.
type verb func(*env) *cobra.Command

// topVerbs are hoist's top-level commands by name.
func topVerbs() map[string]verb {
	verbs := map[string]verb{
		"version": newVersionCmd, "images": newImagesCmd, "tag": newTagCmd, "inspect": newInspectCmd,
		"history": newHistoryCmd, "rmi": newRmiCmd, "import": newImportCmd, "info": newInfoCmd,
		"save": newSaveCmd, "load": newLoadCmd,
		monitorVerb: newContainerMonitorCmd, "container-init": newContainerInitCmd,
		"registry": newRegistryCmd, "volume": newVolumeCmd, "network": newNetworkCmd,
		"login": newLoginCmd, "logout": newLogoutCmd, "search": newSearchCmd, "pull": newPullCmd, "push": newPushCmd,
		"build": newBuildCmd, "builder": newBuilderCmd, "events": newEventsCmd, "serve": newServeCmd,
		"image": newImageGroupCmd, "container": newContainerGroupCmd, "system": newSystemGroupCmd,
	}
	for name, build := range containerVerbs() {
		verbs[name] = build
	}
	return verbs
}

// commandWord is the top-level command named in args: the first argument
// that is neither one of the root's flags (pf) nor a flag's value; "" when
// a flag comes first that is not the root's (--help, --version) or none is
// named.
func commandWord(pf *pflag.FlagSet, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			return a
		}
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var f *pflag.Flag
		if strings.HasPrefix(a, "--") {
			f = pf.Lookup(name)
		} else if len(name) == 1 {
			f = pf.ShorthandLookup(name)
		}
		if f == nil {
			return ""
		}
		if !inline && f.NoOptDefVal == "" { // its value is the next argument
			i++
		}
	}
	return ""
}

// newImageGroupCmd is `hoist image VERB`: docker's management-command
// forms of the image verbs.
func newImageGroupCmd(e *env) *cobra.Command {
	image := &cobra.Command{Use: "image", Short: "Manage images", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	imageLs := newImagesCmd(e)
	imageLs.Use, imageLs.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	imageRm := newRmiCmd(e)
	imageRm.Use, imageRm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"remove"}
	image.AddCommand(imageLs, imageRm, newTagCmd(e), newImageInspectCmd(e), newHistoryCmd(e),
		newImportCmd(e), newImagePruneCmd(e), newSaveCmd(e), newLoadCmd(e), newBuildCmd(e))
	image.AddCommand(newPullCmd(e), newPushCmd(e))
	return image
}

// newContainerGroupCmd is `hoist container VERB`.
func newContainerGroupCmd(e *env) *cobra.Command {
	container := &cobra.Command{Use: "container", Short: "Manage containers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	for _, build := range containerVerbs() {
		container.AddCommand(build(e))
	}
	container.AddCommand(newContainerPruneCmd(e), newContainerInspectCmd(e), newContainerListCmd(e))
	return container
}

// newSystemGroupCmd is `hoist system VERB`.
func newSystemGroupCmd(e *env) *cobra.Command {
	system := &cobra.Command{Use: "system", Short: "Manage hoist", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	system.AddCommand(newSystemDfCmd(e), newSystemPruneCmd(e), newSystemCheckCmd(e), newSystemRestoreCmd(e), newInfoCmd(e), newEventsCmd(e), newServiceCmd(e, "service"))
	return system
}

// daemonVerb names the commands (at any level: `rm` is `image rm` too)
// that report their daemon-side failures as docker does (fromDaemon). The
// other container verbs print docker's per-argument lines themselves.
func daemonVerb(name string) bool {
	switch name {
	case "logs", "diff", "export", "attach", "top", "commit", "cp", "start", "exec",
		"rmi", "rm", "history", "tag", "save", "inspect", "port", "stats":
		return true
	}
	return false
}
