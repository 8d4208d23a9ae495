package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/apiserver/buildkit"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// The API versions served: from the oldest docker 20.10 speaks to the
// newest the Engine API module (github.com/moby/moby/api v1.57.0) defines.
const (
	MinAPIVersion = "1.41"
	MaxAPIVersion = "1.57"
)

// Options configure a server.
type Options struct {
	// Hosts are where it listens: unix:///path, tcp://host:port, or
	// fd:// (systemd's sockets).
	Hosts []string
	// TLSVerify requires TLS with client certificates signed by TLSCACert
	// (docker's --tlsverify); TLSCert and TLSKey are the server's.
	TLSVerify                  bool
	TLSCACert, TLSCert, TLSKey string
	// Version is hoist's release.
	Version string
	Logger  *slog.Logger
}

// Server answers the Engine API over one engine.
type Server struct {
	eng *engine.Engine
	o   Options
	mux *http.ServeMux
	log *slog.Logger

	// attaches are hijacked attach connections waiting for their
	// container to start (by container ID).
	attachMu sync.Mutex
	attaches map[string]*pendingAttach
	// execs are the exec instances (docker keeps them in memory too).
	// sizes are the terminal sizes of containers created or resized
	// before their client attached.
	sizes  map[string][2]uint16
	execMu sync.Mutex
	execs  map[string]*execInstance
	// bk answers BuildKit's /grpc and /session (buildx's docker driver).
	bk *buildkit.Server
}

// New is the Engine API of eng.
func New(eng *engine.Engine, o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{eng: eng, o: o, mux: http.NewServeMux(), log: o.Logger,
		attaches: map[string]*pendingAttach{}, sizes: map[string][2]uint16{}, execs: map[string]*execInstance{}}
	if bk, err := buildkit.New(context.Background(), eng, o.Version, o.Logger); err == nil {
		s.bk = bk
	} else {
		o.Logger.Warn("BuildKit's API is off", "err", err)
	}
	s.routes()
	return s
}

var versionPrefix = regexp.MustCompile(`^/v(\d+\.\d+)(/|$)`)

// ServeHTTP strips and checks the version prefix, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Api-Version", MaxAPIVersion)
	h.Set("Ostype", "linux")
	h.Set("Server", "hoist/"+s.o.Version+" (linux)")
	h.Set("Docker-Experimental", "false")
	v := MaxAPIVersion
	if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil {
		v = m[1]
		if compareVersions(v, MaxAPIVersion) > 0 {
			writeError(w, errdefs.InvalidArgumentf("client version %s is too new. Maximum supported API version is %s", v, MaxAPIVersion))
			return
		}
		if compareVersions(v, MinAPIVersion) < 0 {
			writeError(w, errdefs.InvalidArgumentf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinAPIVersion))
			return
		}
		r.URL.Path = "/" + strings.TrimPrefix(r.URL.Path[len(m[0]):], "/")
		r.URL.RawPath = ""
	}
	s.log.Debug("api", "method", r.Method, "path", r.URL.Path, "version", v)
	s.mux.ServeHTTP(w, r)
}

// compareVersions compares two MAJOR.MINOR versions.
func compareVersions(a, b string) int {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	for i := range 2 {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Serve listens on o.Hosts and answers until ctx ends; running work
// (streams, hijacked connections) is cut then.
func Serve(ctx context.Context, eng *engine.Engine, o Options) error {
	s := New(eng, o)
	if len(o.Hosts) == 0 {
		return errdefs.InvalidArgumentf("no host to listen on (--host unix:///run/hoist.sock)")
	}
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, h := range o.Hosts {
		l, err := s.listen(h)
		if err != nil {
			closeAll()
			return err
		}
		ls = append(ls, l...)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		s.log.Info("API listening", "addr", l.Addr().String())
		go func() { errc <- hs.Serve(l) }()
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		hs.Close()
		return nil
	case err := <-errc:
		hs.Close()
		return err
	}
}

// listen opens the listeners of one --host.
func (s *Server) listen(host string) ([]net.Listener, error) {
	u, err := url.Parse(host)
	if err != nil || u.Scheme == "" {
		return nil, errdefs.InvalidArgumentf("invalid host %q: want unix:///path, tcp://host:port or fd://", host)
	}
	switch u.Scheme {
	case "unix":
		p := u.Path
		if p == "" {
			p = u.Opaque
		}
		if p == "" {
			return nil, errdefs.InvalidArgumentf("invalid host %q: no socket path", host)
		}
		return s.listenUnix(p)
	case "tcp":
		return s.listenTCP(u.Host)
	case "fd":
		return systemdListeners()
	}
	return nil, errdefs.InvalidArgumentf("invalid host %q: unsupported scheme %q (unix, tcp or fd)", host, u.Scheme)
}

// listenUnix makes the socket path: 0660, owned by root and the docker
// group (else hoist's), as dockerd's. A socket left by a server that is
// gone is replaced; one a server answers on is not.
func (s *Server) listenUnix(p string) ([]net.Listener, error) {
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, errdefs.Conflictf("cannot listen on %s: it exists and is not a socket", p)
		}
		if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
			c.Close()
			return nil, errdefs.Conflictf("cannot listen on %s: a server answers there", p)
		}
		os.Remove(p)
	}
	// The socket is created with no access for others, then opened to
	// the group: no moment where anyone else may connect.
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", p)
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	gid := 0
	for _, name := range []string{"docker", "hoist"} {
		if g, err := user.LookupGroup(name); err == nil {
			gid, _ = strconv.Atoi(g.Gid)
			break
		}
	}
	if err := os.Chown(p, 0, gid); err != nil && os.Geteuid() == 0 {
		l.Close()
		return nil, err
	}
	if err := os.Chmod(p, 0o660); err != nil {
		l.Close()
		return nil, err
	}
	return []net.Listener{l}, nil
}

// listenTCP listens on addr: a loopback address plainly or with TLS, any
// other only with --tlsverify (client certificates required), as dockerd.
func (s *Server) listenTCP(addr string) ([]net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("invalid tcp address %q: %v", addr, err)
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	if !loopback && !s.o.TLSVerify {
		return nil, errdefs.InvalidArgumentf("refusing to listen on tcp://%s without --tlsverify: an unauthenticated API on a network is root on this host for anyone who reaches it (give --tlsverify, --tlscacert, --tlscert and --tlskey, or listen on 127.0.0.1)", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if !s.o.TLSVerify {
		return []net.Listener{l}, nil
	}
	cfg, err := s.tlsConfig()
	if err != nil {
		l.Close()
		return nil, err
	}
	return []net.Listener{tls.NewListener(l, cfg)}, nil
}

// tlsConfig is --tlsverify's: the server's certificate, and client
// certificates signed by the CA required.
func (s *Server) tlsConfig() (*tls.Config, error) {
	if s.o.TLSCACert == "" || s.o.TLSCert == "" || s.o.TLSKey == "" {
		return nil, errdefs.InvalidArgumentf("--tlsverify needs --tlscacert, --tlscert and --tlskey")
	}
	cert, err := tls.LoadX509KeyPair(s.o.TLSCert, s.o.TLSKey)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("--tlscert/--tlskey: %v", err)
	}
	ca, err := os.ReadFile(s.o.TLSCACert)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("--tlscacert: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errdefs.InvalidArgumentf("--tlscacert %s: no PEM certificate", s.o.TLSCACert)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}, nil
}

// systemdListeners are the sockets systemd passed (LISTEN_PID, LISTEN_FDS;
// fds from 3).
func systemdListeners() ([]net.Listener, error) {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if pid != os.Getpid() || n <= 0 {
		return nil, errors.New("fd://: no sockets from systemd (LISTEN_PID/LISTEN_FDS unset or not this process's)")
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	var ls []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("systemd-socket-%d", fd))
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("fd://: socket %d: %w", fd, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}
