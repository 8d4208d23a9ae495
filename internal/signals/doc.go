// Package signals is hoist's one signal table: the names and numbers docker
// accepts (its table is moby/sys/signal's: TERM, sigkill, SIGRTMIN+3,
// RTMAX-2, the CLD, IOT and POLL aliases, ...) for everything that names a
// signal: the Dockerfile's STOPSIGNAL, run/create --stop-signal and commit
// or import -c STOPSIGNAL (kept in the config), kill -s, and the stop
// signal stop sends. Each caller words its own error (BuildKit's or the
// docker daemon's message).
package signals
