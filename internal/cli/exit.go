package cli

import (
	"errors"
	"fmt"
	"io"
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
	fmt.Fprintln(stderr, "Error:", err)
	return 1
}

type flagError struct {
	cmd string
	err error
}

func (e *flagError) Error() string { return e.err.Error() }
