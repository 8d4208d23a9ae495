// Package attach owns the attach protocol between a container's monitor
// (Server) and the clients attached to it (Dial, Conn.Stream: run without
// -d, start -a, attach, wait), over the unix socket attach.sock in the
// container's directory: the client sends one JSON line (Header: the
// streams it wants, its terminal size), then both sides exchange frames
// (a type byte, three zero bytes, a big-endian uint32 length, the
// payload): stdin, stdin-closed and resize from the client; stdout,
// stderr and a last exit-code frame from the monitor.
package attach
