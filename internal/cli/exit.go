package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// StatusError carries an explicit exit code (e.g. a container's status, or
// 125 for hoist's own failure in `run`).
type StatusError struct {
	Code int
	Err  error // may be nil: exit silently with Code
}

func (e *StatusError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *StatusError) Unwrap() error { return e.Err }

// withStatus wraps err so that the command exits with code.
func withStatus(code int, err error) error {
	if err == nil {
		return nil
	}
	return &StatusError{Code: code, Err: err}
}

// exitCode prints err as docker does ("Error: ..." on stderr) and returns the
// exit status: a StatusError's code, 125 for flag errors, else 1.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		if se.Err != nil {
			fmt.Fprintln(stderr, "Error:", se.Err)
		}
		return se.Code
	}
	var uc *unknownCommand
	if errors.As(err, &uc) {
		uc.print(stderr)
		return 1
	}
	var fe *flagError
	if errors.As(err, &fe) {
		fmt.Fprintln(stderr, err)
		fmt.Fprintf(stderr, "See '%s --help'.\n", fe.cmd)
		return 125
	}
	var sh *shapedErr
	if errors.As(err, &sh) {
		sh.print(stderr)
		if sh.code != 0 {
			return sh.code
		}
		return 1
	}
	fmt.Fprintln(stderr, "Error:", err)
	return 1
}

type flagError struct {
	cmd string
	err error
}

func (e *flagError) Error() string { return e.err.Error() }

// shapedErr is a failure printed in one of docker's shapes:
//
//	[hoist: ][Error response from daemon: ]MESSAGE
//	[Error: THEN]
//	[<blank line>Run 'hoist VERB --help' for more information]
//
// with exit status code (1 when 0).
type shapedErr struct {
	err    error
	code   int
	daemon bool   // a failure docker's daemon reports
	prog   bool   // "hoist: " first, as docker's run and create
	then   string // the client's own line after the daemon's
	hint   string // hoist's own advice, a line of its own after the error
	help   string // the command path of the help hint
}

func (e *shapedErr) Error() string { return e.err.Error() }
func (e *shapedErr) Unwrap() error { return e.err }

func (e *shapedErr) print(w io.Writer) {
	line := e.err.Error()
	if e.daemon {
		line = "Error response from daemon: " + line
	}
	if e.prog {
		line = "hoist: " + line
	}
	fmt.Fprintln(w, line)
	if e.then != "" {
		fmt.Fprintln(w, "Error:", e.then)
	}
	if e.hint != "" {
		fmt.Fprintln(w, e.hint)
	}
	if e.help != "" {
		fmt.Fprintf(w, "\nRun '%s --help' for more information\n", e.help)
	}
}

// daemonSide reports an error of the stores or the container manager that
// docker's daemon would have answered (errdefs.IsDaemonSide).
func daemonSide(err error) bool { return errdefs.IsDaemonSide(err) }

// fromDaemon makes each command report its daemon-side failures
// (daemonSide) as docker does.
func fromDaemon(cmds ...*cobra.Command) {
	for _, c := range cmds {
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			var se *StatusError
			if err != nil && daemonSide(err) && !errors.As(err, &se) {
				return &shapedErr{err: err, daemon: true}
			}
			return err
		}
	}
}

// filterFailure prints a bad --filter (an *engine.FilterError) as docker's
// daemon's answer; other errors pass through.
func filterFailure(err error) error {
	var fe *engine.FilterError
	if errors.As(err, &fe) {
		return &shapedErr{err: fe.Err, daemon: true}
	}
	return err
}
