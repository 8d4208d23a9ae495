package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/hoistproject/hoist/internal/errdefs"

	"golang.org/x/term"
)

// daemonError reports err as docker prints a failure reported by its
// daemon ("Error response from daemon: ...", exit status 1).
func (e *env) daemonError(err error) error { return &shapedErr{err: err, daemon: true} }

// registryError is daemonError for a registry's refusal: docker's line
// (which scripts match), then, when the registry wants credentials it did
// not get or accept, what to do about it.
func (e *env) registryError(err error, registry string) error {
	se := &shapedErr{err: err, daemon: true}
	if errors.Is(err, errdefs.ErrUnauthorized) {
		se.hint = fmt.Sprintf("hoist: %s wants credentials it did not get or accept: log in with 'hoist login %s'", registry, registry)
	}
	return se
}

// inputTTY returns the terminal file descriptor of stdin, if it is one.
func (e *env) inputTTY() (int, bool) {
	f, ok := e.in.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}
