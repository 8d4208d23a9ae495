package cli

import (
	"os"

	"golang.org/x/term"
)

// daemonError reports err as docker prints a failure reported by its
// daemon ("Error response from daemon: ...", exit status 1).
func (e *env) daemonError(err error) error { return &shapedErr{err: err, daemon: true} }

// inputTTY returns the terminal file descriptor of stdin, if it is one.
func (e *env) inputTTY() (int, bool) {
	f, ok := e.in.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}
