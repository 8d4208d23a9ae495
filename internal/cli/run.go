package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

func newRunCmd(e *env) *cobra.Command {
	var f createFlags
	var detach bool
	var detachKeys string
	var attachTo []string
	sigProxy := true
	c := &cobra.Command{
		Use: "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Example: `  hoist run --rm busybox echo hello            # run, print, remove
  hoist run -d --name web -p 8080:80 nginx      # in the background, port 8080 published
  hoist run -it --rm -v "$PWD":/src -w /src debian:bookworm bash
  hoist run -d --restart unless-stopped --network app --network-alias db postgres`,
		Short: "Create and run a new container from an image",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd, args)
			if err != nil {
				return runFailure(err)
			}
			only, err := attachStreams(attachTo, detach)
			if err != nil {
				return runFailure(err)
			}
			if !detach {
				if err := e.requireTTY(f.interactive, f.tty); err != nil {
					return err
				}
			}
			if err := e.useDetachKeys(detachKeys); err != nil {
				return runFailure(err)
			}
			o.Config.StdinOnce = f.interactive && !detach
			if err := e.engine().OpenContainers(); err != nil {
				return withStatus(125, err)
			}
			ctx := cmd.Context()
			// The monitor starts up while the container is created (best
			// effort: Start spawns one itself otherwise).
			mon, _ := e.engine().SpawnMonitor()
			defer mon.Close()
			if err := checkCIDFile(f.cidfile); err != nil {
				return runFailure(err)
			}
			// The container stays locked from its creation until it runs:
			// no prune or rm takes it in between.
			o.Hold = true
			ctr, err := e.createContainer(ctx, o, &f)
			if err != nil {
				return runFailure(err)
			}
			defer ctr.Release()
			failed := func(err error) error {
				ctr.Release()
				if f.rm {
					_ = e.engine().RemoveContainer(context.WithoutCancel(ctx), ctr.ID, engine.RemoveOptions{Force: true, Volumes: true})
				}
				return runFailure(err)
			}
			if err := writeCIDFile(f.cidfile, ctr.ID); err != nil {
				return runFailure(err)
			}
			if detach {
				if _, err := e.engine().StartCreated(ctx, ctr, engine.StartOptions{Monitor: mon}); err != nil {
					return failed(err)
				}
				fmt.Fprintln(e.out, ctr.ID)
				return nil
			}
			streams, restore := terminalStreams(e, f.interactive, f.tty)
			if only != nil { // -a: these streams only (stdin needs -i too, as docker)
				if !only["stdin"] {
					streams.Stdin = nil
				}
				if !only["stdout"] {
					streams.Stdout = nil
				}
				if !only["stderr"] {
					streams.Stderr = nil
				}
			}
			var sigs <-chan os.Signal
			stop := func() {}
			if sigProxy && !f.tty { // docker proxies no signals to a tty
				sigs, stop = forwardedSignals()
			}
			code, err := e.engine().StartCreated(ctx, ctr, engine.StartOptions{Streams: streams, Signals: sigs, Monitor: mon})
			stop()
			restore()
			if err != nil {
				return failed(err)
			}
			if code != 0 {
				return &StatusError{Code: code}
			}
			return nil
		},
	}
	f.register(c.Flags())
	c.Flags().BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	c.Flags().StringVar(&detachKeys, "detach-keys", defaultDetachKeys, "Override the key sequence for detaching a container")
	c.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	c.Flags().StringArrayVarP(&attachTo, "attach", "a", nil, "Attach to STDIN, STDOUT or STDERR")
	return c
}

// attachStreams reads run's -a values (stdin, stdout, stderr, any case);
// nil when none was given (all are attached).
func attachStreams(values []string, detach bool) (map[string]bool, error) {
	if len(values) == 0 {
		return nil, nil
	}
	if detach {
		return nil, errdefs.InvalidArgumentf("Conflicting options: -a and -d")
	}
	only := map[string]bool{}
	for _, v := range values {
		switch l := strings.ToLower(v); l {
		case "stdin", "stdout", "stderr":
			only[l] = true
		default:
			return nil, errdefs.InvalidArgumentf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", v)
		}
	}
	return only, nil
}
