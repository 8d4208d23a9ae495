package attach

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// SocketName is the monitor's attach socket in the container's directory.
const SocketName = "attach.sock"

// The attach protocol between a client and a container's monitor, over the
// unix socket attach.sock (SocketName). The client first sends one JSON line (Header);
// then both sides exchange frames: a byte type, three zero bytes and a
// big-endian uint32 payload length, then the payload.
const (
	FrameStdin      = 0 // client -> monitor: stdin bytes
	FrameStdout     = 1 // monitor -> client
	FrameStderr     = 2 // monitor -> client
	FrameExit       = 3 // monitor -> client: decimal exit code; last frame
	FrameStdinClose = 5 // client -> monitor: stdin reached EOF
	FrameResize     = 6 // client -> monitor: "HEIGHT WIDTH"
	// FrameAttached (monitor -> client, first, when the Header asked for
	// it): the client is registered; all output from now on reaches it.
	FrameAttached = 7
)

// Header is the client's first message, one JSON line: the streams it
// wants, its terminal size, and whether it waits for FrameAttached
// (DialRegistered).
type Header struct {
	Stdin, Stdout, Stderr bool
	Height, Width         uint16
	Registered            bool `json:",omitempty"`
}

// handshakeTimeout bounds each side's wait for the other's first message.
const handshakeTimeout = 10 * time.Second

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, p []byte) error {
	var h [8]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	if _, err := w.Write(append(h[:], p...)); err != nil {
		return err
	}
	return nil
}

// ReadFrame reads one frame (at most 16 MiB).
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("attach: frame too large (%d bytes)", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return h[0], p, nil
}
