package buildkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/moby/buildkit/session"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	controlapi "github.com/moby/buildkit/api/services/control"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// Session and gateway calls may arrive before the Solve they belong to
// (buildx sends them concurrently); they wait this long for it.
const solveWait = 30 * time.Second

// Server answers BuildKit's control and gateway services over one engine.
type Server struct {
	eng     *engine.Engine
	version string
	log     *slog.Logger
	ctx     context.Context // the server's life: sessions end with it
	sm      *session.Manager
	grpc    *grpc.Server
	h2      *http.Server // HTTP/2 with prior knowledge only, for /grpc

	mu     sync.Mutex
	solves map[string]*solve // by the client's build reference
}

// New is the BuildKit API of eng; ctx bounds the sessions it accepts.
func New(ctx context.Context, eng *engine.Engine, version string, log *slog.Logger) (*Server, error) {
	sm, err := session.NewManager()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	quietLogrus(log)
	s := &Server{eng: eng, version: version, log: log, ctx: ctx, sm: sm,
		grpc: grpc.NewServer(), solves: map[string]*solve{}}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	s.h2 = &http.Server{Handler: s.grpc, Protocols: &protocols, BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	controlapi.RegisterControlServer(s.grpc, &control{s: s})
	gwpb.RegisterLLBBridgeServer(s.grpc, &gateway{s: s})
	return s, nil
}

// upgradeH2C checks that r asks to be upgraded to h2c, as /grpc and
// /session must.
func upgradeH2C(r *http.Request) error {
	if p := r.Header.Get("Upgrade"); p != "h2c" {
		return errdefs.InvalidArgumentf("%s needs a connection upgraded to h2c (Upgrade: %q)", r.URL.Path, p)
	}
	return nil
}

// ServeGRPC is POST /grpc: the connection, upgraded to h2c, carries the
// control and gateway services until the client closes it. An error is
// returned only when nothing was written (the caller answers it).
func (s *Server) ServeGRPC(w http.ResponseWriter, r *http.Request) error {
	if err := upgradeH2C(r); err != nil {
		return err
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return errdefs.InvalidArgumentf("this connection cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	if _, err := fmt.Fprint(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"); err != nil {
		conn.Close()
		return nil
	}
	// The connection now speaks HTTP/2 with prior knowledge: an HTTP
	// server that allows only that serves it, alone, until it closes.
	l := &connListener{conn: &bufferedConn{Conn: conn, r: brw.Reader}, done: make(chan struct{})}
	_ = s.h2.Serve(l)
	return nil
}

// connListener hands one connection to an http.Server, then reports
// itself closed once that connection is.
type connListener struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
}

func (l *connListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = &closeSignalConn{Conn: l.conn, l: l} })
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *connListener) Close() error   { return nil }
func (l *connListener) Addr() net.Addr { return l.conn.LocalAddr() }

type closeSignalConn struct {
	net.Conn
	l    *connListener
	once sync.Once
}

func (c *closeSignalConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.l.done) })
	return err
}

// ServeSession is POST /session: the client's session, where the server
// is the gRPC client, held until either side ends it.
func (s *Server) ServeSession(w http.ResponseWriter, r *http.Request) error {
	if err := upgradeH2C(r); err != nil {
		return err
	}
	if r.Header.Get("X-Docker-Expose-Session-Uuid") == "" {
		return errdefs.InvalidArgumentf("/session needs the X-Docker-Expose-Session-Uuid header")
	}
	if err := s.sm.HandleHTTPRequest(s.ctx, w, r); err != nil {
		s.log.Debug("buildkit session ended", "err", err)
	}
	return nil
}

// bufferedConn reads what the HTTP server had already buffered first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// solveFor returns the solve of ref, created when none is known yet.
func (s *Server) solveFor(ref string) *solve {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.solveLocked(ref)
}

// solveLocked is solveFor with s.mu held.
func (s *Server) solveLocked(ref string) *solve {
	b := s.solves[ref]
	if b == nil {
		b = newSolve(ref)
		s.solves[ref] = b
	}
	return b
}

// registered waits until the Solve of ref has arrived.
func (s *Server) registered(ctx context.Context, ref string) (*solve, error) {
	if ref == "" {
		return nil, status.Error(codes.InvalidArgument, "no build reference (buildid) in the request")
	}
	b := s.solveFor(ref)
	t := time.NewTimer(solveWait)
	defer t.Stop()
	select {
	case <-b.registered:
		return b, nil
	case <-ctx.Done():
		s.dropUnregistered(b)
		return nil, ctx.Err()
	case <-t.C:
		s.dropUnregistered(b)
		return nil, status.Errorf(codes.NotFound, "no build %s: its Solve never arrived", ref)
	}
}

// dropUnregistered forgets b if its Solve has not arrived (a caller that
// waited for it gave up), so that such entries do not pile up.
func (s *Server) dropUnregistered(b *solve) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-b.registered:
		return
	default:
	}
	if s.solves[b.ref] == b {
		delete(s.solves, b.ref)
	}
}

// register makes req the Solve of its reference, waking the calls that
// wait for it; a reference has one Solve.
func (s *Server) register(req *controlapi.SolveRequest) (*solve, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.solveLocked(req.Ref)
	select {
	case <-b.registered:
		return nil, status.Errorf(codes.AlreadyExists, "build %s is already running", req.Ref)
	default:
	}
	b.req = req
	close(b.registered)
	return b, nil
}

// forget drops ref once its solve is over; late Status calls within a
// minute still get its events.
func (s *Server) forget(b *solve) {
	time.AfterFunc(time.Minute, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.solves[b.ref] == b {
			delete(s.solves, b.ref)
		}
	})
}

// grpcError gives err a gRPC code from hoist's error kinds.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errdefs.IsInvalidArgument(err):
		code = codes.InvalidArgument
	case errdefs.IsNotFound(err):
		code = codes.NotFound
	case errdefs.IsConflict(err):
		code = codes.AlreadyExists
	}
	return status.Error(code, err.Error())
}

var logrusOnce sync.Once

// quietLogrus sends what BuildKit's packages log (through logrus's
// standard logger: a session's health check failing after its client has
// gone, for one) to log at debug level instead of the server's stderr.
func quietLogrus(log *slog.Logger) {
	logrusOnce.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.AddHook(logrusHook{log})
	})
}

type logrusHook struct{ log *slog.Logger }

func (logrusHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h logrusHook) Fire(e *logrus.Entry) error {
	args := make([]any, 0, 2*len(e.Data))
	for k, v := range e.Data {
		args = append(args, k, v)
	}
	h.log.Debug("buildkit: "+e.Message, args...)
	return nil
}
