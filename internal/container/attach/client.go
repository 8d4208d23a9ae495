package attach

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoistproject/hoist/internal/container/unixsock"
)

// Streams are a client's ends of a container's stdio.
type Streams struct {
	Stdin          io.Reader // nil: no stdin
	Stdout, Stderr io.Writer // nil: not attached
	// Resize delivers terminal size changes (height, width) for -t.
	Resize        <-chan [2]uint16
	Height, Width uint16
	// CloseStdin closes the container's stdin when Stdin reaches EOF.
	CloseStdin bool
	// DetachKeys, when set, is the key sequence in Stdin that detaches
	// (docker's ctrl-p,ctrl-q): Stream then returns and the container
	// carries on.
	DetachKeys []byte
}

// Conn is a client attached to a monitor.
type Conn struct {
	conn     *net.UnixConn
	r        *bufio.Reader
	detached atomic.Bool
	// exit is the exit-code frame the monitor answered DialRegistered
	// with (the container had exited already); Stream returns it.
	exit []byte
}

// Detached reports whether Stream ended because the detach keys were read.
func (a *Conn) Detached() bool { return a.detached.Load() }

// Dial attaches to the monitor serving in dir, asking for the streams s
// has (nil: none, only the exit code). It returns once its request is
// sent: the monitor takes it up when it gets to it, and a container that
// exits before then leaves the client without its code (Stream's ok is
// false). That suits a client of a running container, whose monitor may
// be of an older hoist that knows no more.
func Dial(dir string, s *Streams) (*Conn, error) { return dial(dir, s, false) }

// DialRegistered is Dial that returns only once the monitor has
// registered the client (or answered with the exit code of a container
// that has exited), so that everything the container writes from then on,
// and its exit code, reach it: a starter attaches so before it has the
// process started, whose output and exit (a fast one may exit at once)
// would otherwise race the monitor's taking of the client.
func DialRegistered(dir string, s *Streams) (*Conn, error) { return dial(dir, s, true) }

func dial(dir string, s *Streams, registered bool) (*Conn, error) {
	conn, err := unixsock.Dial(dir, SocketName)
	if err != nil {
		return nil, err
	}
	h := Header{Stdin: s != nil && s.Stdin != nil, Stdout: s != nil && s.Stdout != nil, Stderr: s != nil && s.Stderr != nil,
		Registered: registered}
	if s != nil {
		h.Height, h.Width = s.Height, s.Width
	}
	b, _ := json.Marshal(h)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, err
	}
	a := &Conn{conn: conn, r: bufio.NewReader(conn)}
	if !registered {
		return a, nil
	}
	conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	typ, p, err := ReadFrame(a.r)
	conn.SetReadDeadline(time.Time{})
	switch {
	case err != nil:
		conn.Close()
		return nil, fmt.Errorf("the monitor did not take the attach: %w", err)
	case typ == FrameExit:
		a.exit = p
	case typ != FrameAttached:
		conn.Close()
		return nil, fmt.Errorf("the monitor answered the attach with frame %d", typ)
	}
	return a, nil
}

// Close detaches.
func (a *Conn) Close() error { return a.conn.Close() }

// Stream copies frames to s until the exit frame and returns the exit
// code; ok is false if the monitor went away without one. It closes the
// connection.
func (a *Conn) Stream(s *Streams) (code int, ok bool) {
	defer a.conn.Close()
	if a.exit != nil {
		n, _ := strconv.Atoi(string(a.exit))
		return n, true
	}
	var wmu sync.Mutex
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return WriteFrame(a.conn, typ, p)
	}
	done := make(chan struct{})
	defer close(done)
	if s != nil && s.Stdin != nil {
		go func() {
			buf := make([]byte, 32*1024)
			keys := detacher{keys: s.DetachKeys}
			for {
				n, err := s.Stdin.Read(buf)
				if n > 0 {
					p, detach := keys.scan(buf[:n])
					if len(p) > 0 && send(FrameStdin, p) != nil {
						return
					}
					if detach {
						a.detached.Store(true)
						a.conn.Close() // the monitor keeps the container going
						return
					}
				}
				if err != nil {
					if s.CloseStdin {
						send(FrameStdinClose, nil)
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
					send(FrameResize, []byte(fmt.Sprintf("%d %d", sz[0], sz[1])))
				case <-done:
					return
				}
			}
		}()
	}
	for {
		typ, p, err := ReadFrame(a.r)
		if err != nil {
			return 0, false
		}
		switch typ {
		case FrameStdout:
			if s != nil && s.Stdout != nil {
				s.Stdout.Write(p)
			}
		case FrameStderr:
			if s != nil && s.Stderr != nil {
				s.Stderr.Write(p)
			}
		case FrameExit:
			n, _ := strconv.Atoi(string(p))
			return n, true
		}
	}
}

// detacher finds the detach key sequence in stdin, across reads. Bytes of a
// partial match are held back until the match fails (then they are sent),
// as docker's escape proxy does.
type detacher struct {
	keys    []byte
	matched int
}

// scan returns what of p (and of earlier held-back bytes) to send, and
// whether the whole sequence was read.
func (d *detacher) scan(p []byte) ([]byte, bool) {
	if len(d.keys) == 0 {
		return p, false
	}
	var out []byte
	for _, b := range p {
		if b == d.keys[d.matched] {
			d.matched++
			if d.matched == len(d.keys) {
				return out, true
			}
			continue
		}
		out = append(out, d.keys[:d.matched]...)
		d.matched = 0
		if b == d.keys[0] {
			d.matched = 1
			continue
		}
		out = append(out, b)
	}
	return out, false
}

// ParseDetachKeys reads docker's --detach-keys ("ctrl-p,ctrl-q", "a,ctrl-@").
func ParseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		if c, ok := strings.CutPrefix(k, "ctrl-"); ok && len(c) == 1 {
			ch := c[0]
			switch {
			case ch >= 'a' && ch <= 'z':
				out = append(out, ch-'a'+1)
				continue
			case ch == '@' || (ch >= '[' && ch <= '_'):
				out = append(out, ch-'@')
				continue
			}
			return nil, fmt.Errorf("Invalid escape keys (%s) provided", s)
		}
		if len(k) != 1 {
			return nil, fmt.Errorf("Invalid escape keys (%s) provided", s)
		}
		out = append(out, k[0])
	}
	return out, nil
}
