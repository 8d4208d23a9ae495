package signals

import (
	"strconv"
	"syscall"

	mobysignal "github.com/moby/sys/signal"
)

// Parse reads s as docker does: a signal number (1 to 64) or a name from
// docker's table, in any case, with or without the SIG prefix. ok is false
// for anything else.
func Parse(s string) (sig syscall.Signal, ok bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return syscall.Signal(n), n > 0 && n <= 64
	}
	sig, err := mobysignal.ParseSignal(s)
	return sig, err == nil
}
