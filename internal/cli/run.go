package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/container"
)

func newRunCmd(e *env) *cobra.Command {
	var f createFlags
	var detach bool
	var detachKeys string
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd, args)
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
			m, err := e.containers()
			if err != nil {
				return withStatus(125, err)
			}
			ctx := cmd.Context()
			// The monitor starts up while the container is created (best
			// effort: Start spawns one itself otherwise).
			mon, _ := m.SpawnMonitor()
			defer mon.Close()
			if err := checkCIDFile(f.cidfile); err != nil {
				return runFailure(err)
			}
			ctr, err := e.createContainer(ctx, m, o, f.pull, f.platform)
			if err != nil {
				return runFailure(err)
			}
			if err := writeCIDFile(f.cidfile, ctr.ID); err != nil {
				return runFailure(err)
			}
			failed := func(err error) error {
				if f.rm {
					_ = m.Remove(context.WithoutCancel(ctx), ctr.ID, container.RemoveOptions{Force: true, Volumes: true})
				}
				return runFailure(err)
			}
			if detach {
				if _, err := m.StartCreated(ctx, ctr, container.StartOptions{Monitor: mon}); err != nil {
					return failed(err)
				}
				fmt.Fprintln(e.out, ctr.ID)
				return nil
			}
			streams, restore := terminalStreams(e, f.interactive, f.tty)
			sigs, stop := forwardedSignals()
			code, err := m.StartCreated(ctx, ctr, container.StartOptions{Streams: streams, Signals: sigs, Monitor: mon})
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
	return c
}
