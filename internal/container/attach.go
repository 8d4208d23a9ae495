package container

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/hoistproject/hoist/internal/container/unixsock"
)

// The attach protocol between a client and a container's monitor, over the
// unix socket attach.sock. The client first sends one JSON line (attachHeader);
// then both sides exchange frames: a byte type, three zero bytes and a
// big-endian uint32 payload length, then the payload.
const (
	frameStdin      = 0 // client -> monitor: stdin bytes
	frameStdout     = 1 // monitor -> client
	frameStderr     = 2 // monitor -> client
	frameExit       = 3 // monitor -> client: decimal exit code; last frame
	frameStdinClose = 5 // client -> monitor: stdin reached EOF
	frameResize     = 6 // client -> monitor: "HEIGHT WIDTH"
)

type attachHeader struct {
	Stdin, Stdout, Stderr bool
	Height, Width         uint16
}

func writeFrame(w io.Writer, typ byte, p []byte) error {
	var h [8]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	if _, err := w.Write(append(h[:], p...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
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

// Streams are a client's ends of a container's stdio.
type Streams struct {
	Stdin          io.Reader // nil: no stdin
	Stdout, Stderr io.Writer // nil: not attached
	// Resize delivers terminal size changes (height, width) for -t.
	Resize        <-chan [2]uint16
	Height, Width uint16
	// CloseStdin closes the container's stdin when Stdin reaches EOF.
	CloseStdin bool
}

// attachConn is a connected attach client.
type attachConn struct {
	conn *net.UnixConn
	r    *bufio.Reader
}

func attachDial(c *Container, s *Streams) (*attachConn, error) {
	conn, err := unixsock.Dial(c.dir, "attach.sock")
	if err != nil {
		return nil, err
	}
	h := attachHeader{Stdin: s != nil && s.Stdin != nil, Stdout: s != nil && s.Stdout != nil, Stderr: s != nil && s.Stderr != nil}
	if s != nil {
		h.Height, h.Width = s.Height, s.Width
	}
	b, _ := json.Marshal(h)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, err
	}
	return &attachConn{conn: conn, r: bufio.NewReader(conn)}, nil
}

// stream copies frames to s until the exit frame and returns the exit code;
// ok is false if the monitor went away without one.
func (a *attachConn) stream(s *Streams) (code int, ok bool) {
	defer a.conn.Close()
	var wmu sync.Mutex
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(a.conn, typ, p)
	}
	done := make(chan struct{})
	defer close(done)
	if s != nil && s.Stdin != nil {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := s.Stdin.Read(buf)
				if n > 0 {
					if send(frameStdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					if s.CloseStdin {
						send(frameStdinClose, nil)
					}
					return
				}
			}
		}()
	}
	if s != nil && s.Resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-s.Resize:
					if !ok {
						return
					}
					send(frameResize, []byte(fmt.Sprintf("%d %d", sz[0], sz[1])))
				case <-done:
					return
				}
			}
		}()
	}
	for {
		typ, p, err := readFrame(a.r)
		if err != nil {
			return 0, false
		}
		switch typ {
		case frameStdout:
			if s != nil && s.Stdout != nil {
				s.Stdout.Write(p)
			}
		case frameStderr:
			if s != nil && s.Stderr != nil {
				s.Stderr.Write(p)
			}
		case frameExit:
			n, _ := strconv.Atoi(string(p))
			return n, true
		}
	}
}
