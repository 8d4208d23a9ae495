package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
)

func newStartCmd(e *env) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !attach && !interactive {
				var failed []string
				err := eachContainer(e, args, func(ref string) error {
					_, err := e.engine().Start(cmd.Context(), ref, engine.StartOptions{})
					if err != nil {
						failed = append(failed, ref)
					}
					return err
				})
				if err != nil {
					return withStatus(1, fmt.Errorf("failed to start containers: %s", strings.Join(failed, ", ")))
				}
				return nil
			}
			ctr, err := e.engine().Container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := e.useDetachKeys(detachKeys); err != nil {
				return err
			}
			streams, restore := terminalStreams(e, interactive && ctr.Config.OpenStdin, ctr.Config.Tty)
			sigs, stop := forwardedSignals()
			code, err := e.engine().Start(cmd.Context(), args[0], engine.StartOptions{Streams: streams, Signals: sigs})
			stop()
			restore()
			var se *engine.StartError
			if err != nil && (daemonSide(err) || errors.As(err, &se)) {
				return &shapedErr{err: err, daemon: true} // docker: exit status 1
			}
			if err != nil {
				return startExit(err)
			}
			if code != 0 {
				return &StatusError{Code: code}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	c.Flags().StringVar(&detachKeys, "detach-keys", defaultDetachKeys, "Override the key sequence for detaching a container")
	return c
}
