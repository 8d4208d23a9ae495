package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
)

func newAttachCmd(e *env) *cobra.Command {
	var noStdin bool
	var detachKeys string
	c := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctr, err := e.engine().Container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := e.useDetachKeys(detachKeys); err != nil {
				return err
			}
			if !ctr.State.Running() { // docker's client says so itself
				return &shapedErr{err: errors.New("You cannot attach to a stopped container, start it first")}
			}
			if ctr.State.Status == engine.StatusRestarting {
				return &shapedErr{err: errors.New("You cannot attach to a restarting container, wait until it is running")}
			}
			streams, restore := terminalStreams(e, !noStdin && ctr.Config.OpenStdin, ctr.Config.Tty)
			sigs, stop := forwardedSignals()
			code, err := e.engine().Attach(cmd.Context(), args[0], engine.StartOptions{Streams: streams, Signals: sigs})
			stop()
			restore()
			if err != nil {
				return err
			}
			if code != 0 {
				return &StatusError{Code: code}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	c.Flags().StringVar(&detachKeys, "detach-keys", defaultDetachKeys, "Override the key sequence for detaching a container")
	c.Flags().Bool("sig-proxy", true, "Proxy all received signals to the process")
	return c
}
