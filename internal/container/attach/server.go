package attach

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hoistproject/hoist/internal/container/unixsock"
)

// Input receives what attached clients send to the container.
type Input interface {
	Stdin(p []byte)              // stdin bytes
	CloseStdin()                 // a client's stdin reached EOF
	Resize(height, width uint16) // the client's terminal size (also from its Header)
}

// Server is the monitor's side: it accepts clients on the attach socket,
// copies the container's output to those that asked for it, hands their
// input to an Input, and tells every client the exit code at the end.
type Server struct {
	l    *net.UnixListener
	path string
	in   Input

	mu      sync.Mutex
	clients map[*client]struct{}
	exited  bool
	code    int
}

type client struct {
	conn net.Conn
	h    Header
	wmu  sync.Mutex
}

func (cl *client) send(typ byte, p []byte) error {
	cl.wmu.Lock()
	defer cl.wmu.Unlock()
	return cl.write(typ, p)
}

// write is send with cl.wmu held.
func (cl *client) write(typ byte, p []byte) error {
	cl.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return WriteFrame(cl.conn, typ, p)
}

// Listen creates the attach socket in dir (replacing a stale one).
func Listen(dir string, in Input) (*Server, error) {
	l, err := unixsock.Listen(dir, SocketName)
	if err != nil {
		return nil, err
	}
	return &Server{l: l, path: filepath.Join(dir, SocketName), in: in, clients: map[*client]struct{}{}}, nil
}

// Serve accepts clients until Exit.
func (s *Server) Serve() {
	for {
		conn, err := s.l.Accept()
		if err != nil {
			return
		}
		go s.handle(conn)
	}
}

func (s *Server) handle(conn net.Conn) {
	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	line, err := r.ReadBytes('\n')
	conn.SetReadDeadline(time.Time{})
	var h Header
	if err != nil || json.Unmarshal(line, &h) != nil {
		conn.Close()
		return
	}
	cl := &client{conn: conn, h: h}
	s.mu.Lock()
	if s.exited {
		code := s.code
		s.mu.Unlock()
		cl.send(FrameExit, []byte(strconv.Itoa(code)))
		conn.Close()
		return
	}
	if h.Registered {
		cl.wmu.Lock() // until the answer is out: no output goes before it
	}
	s.clients[cl] = struct{}{}
	s.mu.Unlock()
	if h.Registered {
		err := cl.write(FrameAttached, nil)
		cl.wmu.Unlock()
		if err != nil {
			s.drop(cl)
			return
		}
	}
	if h.Height > 0 {
		s.in.Resize(h.Height, h.Width)
	}
	for {
		typ, p, err := ReadFrame(r)
		if err != nil {
			return
		}
		switch typ {
		case FrameStdin:
			s.in.Stdin(p)
		case FrameStdinClose:
			s.in.CloseStdin()
		case FrameResize:
			var hh, ww uint16
			fmt.Sscan(string(p), &hh, &ww)
			s.in.Resize(hh, ww)
		}
	}
}

// Stdout sends container output to the clients attached to stdout.
func (s *Server) Stdout(p []byte) { s.broadcast(FrameStdout, p) }

// Stderr sends container output to the clients attached to stderr.
func (s *Server) Stderr(p []byte) { s.broadcast(FrameStderr, p) }

func (s *Server) broadcast(typ byte, p []byte) {
	s.mu.Lock()
	var cls []*client
	for cl := range s.clients {
		if (typ == FrameStdout && cl.h.Stdout) || (typ == FrameStderr && cl.h.Stderr) {
			cls = append(cls, cl)
		}
	}
	s.mu.Unlock()
	for _, cl := range cls {
		if err := cl.send(typ, p); err != nil {
			s.drop(cl)
		}
	}
}

func (s *Server) drop(cl *client) {
	s.mu.Lock()
	delete(s.clients, cl)
	s.mu.Unlock()
	cl.conn.Close()
}

// RunExited tells every attached client the exit code of the run that
// just ended and disconnects it, but goes on serving: the monitor starts
// the container again (its restart policy), and clients that attach
// meanwhile follow the next run.
func (s *Server) RunExited(code int) {
	s.mu.Lock()
	cls := s.clients
	s.clients = map[*client]struct{}{}
	s.mu.Unlock()
	for cl := range cls {
		cl.send(FrameExit, []byte(strconv.Itoa(code)))
		cl.conn.Close()
	}
}

// Exit tells every attached client the exit code (when notify; else it
// just disconnects them), stops serving and removes the socket. Clients
// that connect later, before the socket is gone, get the code at once.
func (s *Server) Exit(code int, notify bool) {
	s.mu.Lock()
	s.exited = true
	s.code = code
	var cls []*client
	for cl := range s.clients {
		cls = append(cls, cl)
	}
	s.mu.Unlock()
	for _, cl := range cls {
		if notify {
			cl.send(FrameExit, []byte(strconv.Itoa(code)))
		}
		cl.conn.Close()
	}
	s.l.Close()
	os.Remove(s.path)
}
