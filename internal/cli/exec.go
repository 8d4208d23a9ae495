package cli

import (
	"errors"
	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/engine"
)

func newExecCmd(e *env) *cobra.Command {
	var interactive, tty, detach, privileged bool
	var envs, envFiles []string
	var workdir, user string
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !detach {
				if err := e.requireTTY(interactive, tty); err != nil {
					return err
				}
			}
			env, err := parseEnv(envs, envFiles)
			if err != nil {
				return err
			}
			o := engine.ExecOptions{Cmd: args[1:], Env: env, WorkingDir: workdir, User: user, Tty: tty, Detach: detach, Privileged: privileged}
			var streams *attach.Streams
			restore := func() {}
			if !detach {
				streams, restore = terminalStreams(e, interactive, tty)
			}
			code, err := e.engine().Exec(cmd.Context(), args[0], o, streams)
			restore()
			if err != nil && daemonSide(err) {
				return &shapedErr{err: err, daemon: true} // no such container, not running: 1
			}
			var se *engine.StartError
			if errors.As(err, &se) {
				if se.Shown { // the runtime said why on our stderr already
					return &StatusError{Code: se.Code}
				}
				return &shapedErr{err: err, code: se.Code}
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
	fs := c.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	fs.BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
	fs.StringArrayVarP(&envs, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&envFiles, "env-file", nil, "Read in a file of environment variables")
	fs.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	return c
}
