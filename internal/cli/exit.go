package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

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
	var fe *flagError
	if errors.As(err, &fe) {
		fmt.Fprintln(stderr, err)
		fmt.Fprintf(stderr, "See '%s --help'.\n", fe.cmd)
		return 125
	}
	var de *daemonErr
	if errors.As(err, &de) {
		fmt.Fprintln(stderr, "Error response from daemon:", de.err)
		if de.then != "" {
			fmt.Fprintln(stderr, "Error:", de.then)
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

// daemonErr is a failure docker reports as its daemon's: "Error response
// from daemon: ...", then an "Error: ..." line of the client when then is
// set, exit status 1.
type daemonErr struct {
	err  error
	then string
}

func (e *daemonErr) Error() string { return e.err.Error() }
func (e *daemonErr) Unwrap() error { return e.err }

// daemonSide reports an error of the stores or the container manager that
// docker's daemon would have answered: an unknown image or container, a
// conflict, a container in the wrong state.
func daemonSide(err error) bool {
	return errdefs.IsNotFound(err) || errdefs.IsConflict(err) || errdefs.IsFailedPrecondition(err)
}

// fromDaemon makes each command report its daemon-side failures
// (daemonSide) as docker does.
func fromDaemon(cmds ...*cobra.Command) {
	for _, c := range cmds {
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			var se *StatusError
			if err != nil && daemonSide(err) && !errors.As(err, &se) {
				return &daemonErr{err: err}
			}
			return err
		}
	}
}
