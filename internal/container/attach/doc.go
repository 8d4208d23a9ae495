// Package attach owns the attach protocol between a container's monitor
// (Server) and the clients attached to it (Dial, Conn.Stream: run without
// -d, start -a, attach, wait), over the unix socket attach.sock in the
// container's directory: the client sends one JSON line (Header: the
// streams it wants, its terminal size), then both sides exchange frames
// (a type byte, three zero bytes, a big-endian uint32 length, the
// payload): stdin, stdin-closed and resize from the client; stdout,
// stderr and a last exit-code frame from the monitor.
//
// A client that asks in its Header (DialRegistered) is answered first with
// an attached frame once the monitor has registered it, or at once with
// the exit code of a container that has exited: a starter attaches so
// before it has the process started, so that a process that exits at
// once cannot end before the monitor took the client up (whose queued
// connection the monitor's exit would drop, with the output and the exit
// code). Plain Dial does not wait: monitors of an older hoist, still
// holding running containers, do not answer so.
package attach
