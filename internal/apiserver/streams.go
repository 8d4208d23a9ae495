package apiserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

func parseAddr(s string) (netip.Addr, error) { return netip.ParseAddr(s) }

// writeJSONTo encodes v on w (headers already sent).
func writeJSONTo(w io.Writer, v any) { json.NewEncoder(w).Encode(v) }

// streamWriters are the stdout and stderr of a container's output on w:
// the raw stream for a TTY, docker's multiplexed frames otherwise.
func streamWriters(w io.Writer, tty bool) (stdout, stderr io.Writer) {
	if tty {
		f := flushWriter{w}
		return f, f
	}
	mu := &sync.Mutex{}
	return stdWriter{mu: mu, w: w, stream: 1}, stdWriter{mu: mu, w: w, stream: 2}
}

// hijacked is the connection of an attach or an exec start, taken over
// from HTTP.
type hijacked struct {
	conn net.Conn
	in   *bufio.Reader
	once sync.Once
}

func (h *hijacked) Close() { h.once.Do(func() { h.conn.Close() }) }

// hijack takes the connection over from HTTP; answer then tells the
// client, which may act on it at once (docker's CLI starts the container
// once its attach is answered).
func hijack(w http.ResponseWriter) (*hijacked, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errdefs.InvalidArgumentf("this connection cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return &hijacked{conn: conn, in: brw.Reader}, nil
}

// answer answers as dockerd: 101 UPGRADED when the client asked to
// upgrade, else 200 OK, with the stream's media type. It returns once the
// client has read the answer (awaitRead).
func (h *hijacked) answer(r *http.Request, tty bool) {
	ct := types.MediaTypeMultiplexedStream
	if tty {
		ct = types.MediaTypeRawStream
	}
	if r.Header.Get("Upgrade") != "" {
		fmt.Fprintf(h.conn, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", ct)
	} else {
		fmt.Fprintf(h.conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n", ct)
	}
	awaitRead(h.conn, time.Second)
}

// awaitRead waits, at most max, until the client at the other end of a
// unix socket has read all that was written to it (the socket's send
// queue is empty). docker-py reads a hijacked stream from the socket
// itself, past its HTTP parser's buffer: output sent right behind the
// answer's head lands in that buffer and is lost to it (an attach with
// logs=1 never saw the replayed logs). dockerd's head and output are as
// close in principle; its slower start hides the race.
func awaitRead(conn net.Conn, max time.Duration) {
	for deadline := time.Now().Add(max); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if queued, err := unread(conn); err != nil || !queued {
			return
		}
	}
}

// unread tells whether the peer of a unix socket has not read all that
// was written to it yet (SIOCOUTQ: the send queue's size); false for
// other connections.
func unread(conn net.Conn) (bool, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return false, nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return false, err
	}
	n := 0
	if cerr := rc.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); cerr != nil {
		return false, cerr
	}
	return n > 0, err
}

// streams are an attached client's ends on its hijacked connection.
func (h *hijacked) streams(tty, stdin, stdout, stderr bool) *attach.Streams {
	s := &attach.Streams{}
	o, e := streamWriters(h.conn, tty)
	if stdout {
		s.Stdout = o
	}
	if stderr {
		s.Stderr = e
	}
	if stdin {
		s.Stdin = h.in
	}
	return s
}

// detachKeys reads docker's detach keys (ctrl-p,ctrl-q when "").
func detachKeys(v string) ([]byte, error) {
	if v == "" {
		v = "ctrl-p,ctrl-q"
	}
	k, err := attach.ParseDetachKeys(v)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("%v", err)
	}
	return k, nil
}

// pendingAttach is an attach to a container: waiting for its start
// (taken by containerStart), then streaming until its end.
type pendingAttach struct {
	streams *attach.Streams
	resize  chan [2]uint16
	taken   bool
	done    chan struct{} // closed when streaming ended
}

// setConsoleSize notes the terminal size a container is created with
// (HostConfig.ConsoleSize), for the start of its attached client.
func (s *Server) setConsoleSize(id string, h, w uint16) {
	s.attachMu.Lock()
	defer s.attachMu.Unlock()
	s.sizes[id] = [2]uint16{h, w}
}

func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := s.eng.Container(ctx, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if !boolValue(r, "stream") && !boolValue(r, "logs") {
		writeError(w, errdefs.InvalidArgumentf("Bad parameters: you must choose at least one stream"))
		return
	}
	keys, err := detachKeys(r.URL.Query().Get("detachKeys"))
	if err != nil {
		writeError(w, err)
		return
	}
	stdin := boolValue(r, "stdin") && c.Config.OpenStdin
	h, err := hijack(w)
	if err != nil {
		writeError(w, err)
		return
	}
	defer h.Close()
	st := h.streams(c.Config.Tty, stdin, boolValue(r, "stdout"), boolValue(r, "stderr"))
	st.CloseStdin = c.Config.StdinOnce
	if stdin {
		st.DetachKeys = keys
	}
	if !boolValue(r, "stream") { // the logs alone
		h.answer(r, c.Config.Tty)
		s.attachLogs(ctx, c.ID, st)
		return
	}
	p := &pendingAttach{streams: st, resize: make(chan [2]uint16, 4), done: make(chan struct{})}
	st.Resize = p.resize
	s.attachMu.Lock()
	if sz, ok := s.sizes[c.ID]; ok {
		st.Height, st.Width = sz[0], sz[1]
	}
	s.attaches[c.ID] = p
	s.attachMu.Unlock()
	// Answered only now that a start finds this attach waiting: docker's
	// CLI sends its start as soon as the attach is answered.
	h.answer(r, c.Config.Tty)
	defer func() {
		s.attachMu.Lock()
		if s.attaches[c.ID] == p {
			delete(s.attaches, c.ID)
		}
		s.attachMu.Unlock()
	}()
	if boolValue(r, "logs") {
		s.attachLogs(ctx, c.ID, st)
	}
	if c.State.Running() {
		s.takeAttach(c.ID)
		s.eng.Attach(context.WithoutCancel(ctx), c.ID, engine.StartOptions{Streams: st})
		return
	}
	<-p.done // a start takes it and streams until the container ends
}

// attachLogs writes what container id wrote so far to an attached
// client's streams, as dockerd's attach with logs=1 does before its live
// output (docker-py's attach(logs=True) waits for it).
func (s *Server) attachLogs(ctx context.Context, id string, st *attach.Streams) {
	stdout, stderr := st.Stdout, st.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	s.eng.Logs(ctx, id, engine.LogOptions{Tail: -1}, stdout, stderr)
}

// takeAttach is the attach waiting for container id (nil: none), now
// streaming.
func (s *Server) takeAttach(id string) *pendingAttach {
	s.attachMu.Lock()
	defer s.attachMu.Unlock()
	delete(s.sizes, id)
	p := s.attaches[id]
	if p == nil || p.taken {
		return nil
	}
	p.taken = true
	return p
}

// containerStart starts a container; with an attach waiting for it, the
// container's streams go to that client until it ends, and the answer
// comes once it runs.
func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := s.resolveID(ctx, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	p := s.takeAttach(id)
	if p == nil {
		_, err := s.eng.Start(ctx, id, engine.StartOptions{})
		noContent(w, err)
		return
	}
	started := make(chan struct{})
	failed := make(chan error, 1)
	go func() {
		defer close(p.done)
		_, err := s.eng.Start(context.WithoutCancel(ctx), id, engine.StartOptions{Streams: p.streams,
			Started: func() { close(started) }})
		failed <- err
	}()
	select {
	case <-started:
		w.WriteHeader(http.StatusNoContent)
	case err := <-failed:
		noContent(w, err)
	}
}

// containerResize resizes the terminal of a container attached here.
func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) {
	h, err1 := intValue(r, "h", 0)
	wd, err2 := intValue(r, "w", 0)
	if err1 != nil || err2 != nil || h < 0 || wd < 0 || h > 65535 || wd > 65535 {
		writeError(w, errdefs.InvalidArgumentf("invalid terminal size: h=%q w=%q", r.URL.Query().Get("h"), r.URL.Query().Get("w")))
		return
	}
	id, err := s.resolveID(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	s.attachMu.Lock()
	p := s.attaches[id]
	if p == nil {
		s.sizes[id] = [2]uint16{uint16(h), uint16(wd)}
	}
	s.attachMu.Unlock()
	if p != nil {
		if !p.taken {
			p.streams.Height, p.streams.Width = uint16(h), uint16(wd)
		} else {
			select {
			case p.resize <- [2]uint16{uint16(h), uint16(wd)}:
			default:
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

// execInstance is an exec created and maybe started (docker's exec
// object, kept in memory as dockerd does).
type execInstance struct {
	id, container string
	req           container.ExecCreateRequest
	mu            sync.Mutex
	running       bool
	started       bool
	exitCode      *int
	resize        chan [2]uint16
}

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) {
	var req container.ExecCreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	c, err := s.eng.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if !c.State.Running() {
		writeError(w, errdefs.Conflictf("container %s is not running", c.ID))
		return
	}
	if len(req.Cmd) == 0 {
		writeError(w, errdefs.InvalidArgumentf("No exec command specified"))
		return
	}
	if _, err := detachKeys(req.DetachKeys); err != nil {
		writeError(w, err)
		return
	}
	b := make([]byte, 32)
	rand.Read(b)
	x := &execInstance{id: hex.EncodeToString(b), container: c.ID, req: req, resize: make(chan [2]uint16, 4)}
	s.execMu.Lock()
	s.execs[x.id] = x
	s.execMu.Unlock()
	writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: x.id})
}

func (s *Server) execByID(id string) (*execInstance, error) {
	s.execMu.Lock()
	defer s.execMu.Unlock()
	x := s.execs[id]
	if x == nil {
		return nil, errdefs.NotFoundf("No such exec instance: %s", id)
	}
	return x, nil
}

func (s *Server) execStart(w http.ResponseWriter, r *http.Request) {
	x, err := s.execByID(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	var req container.ExecStartRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	x.mu.Lock()
	if x.started {
		x.mu.Unlock()
		writeError(w, errdefs.Conflictf("Error: Exec command %s has already run", x.id))
		return
	}
	x.started, x.running = true, true
	x.mu.Unlock()
	cr := x.req
	o := engine.ExecOptions{Cmd: cr.Cmd, Env: cr.Env, WorkingDir: cr.WorkingDir, User: cr.User, Tty: cr.Tty,
		Privileged: cr.Privileged, Detach: req.Detach}
	ctx := context.WithoutCancel(r.Context())
	finish := func(code int) {
		x.mu.Lock()
		x.running, x.exitCode = false, &code
		x.mu.Unlock()
	}
	if req.Detach {
		code, err := s.eng.Exec(ctx, x.container, o, nil)
		if err != nil {
			finish(126)
			writeError(w, err)
			return
		}
		_ = code
		w.WriteHeader(http.StatusOK)
		go func() {
			// The process runs on: its status is not known here.
			x.mu.Lock()
			x.running = false
			x.mu.Unlock()
		}()
		return
	}
	h, err := hijack(w)
	if err != nil {
		finish(126)
		writeError(w, err)
		return
	}
	defer h.Close()
	h.answer(r, cr.Tty)
	st := h.streams(cr.Tty, cr.AttachStdin, cr.AttachStdout, cr.AttachStderr)
	st.CloseStdin = true
	st.Resize = x.resize
	if sz := req.ConsoleSize; sz != nil {
		st.Height, st.Width = uint16(sz[0]), uint16(sz[1])
	} else if sz := cr.ConsoleSize; sz != nil {
		st.Height, st.Width = uint16(sz[0]), uint16(sz[1])
	}
	if cr.AttachStdin {
		st.DetachKeys, _ = detachKeys(cr.DetachKeys)
	}
	code, err := s.eng.Exec(ctx, x.container, o, st)
	if err != nil {
		// The client has the stream: the failure is its last words.
		st.Stderr.Write([]byte(err.Error() + "\n"))
		if code == 0 {
			code = 126
		}
	}
	finish(code)
}

func (s *Server) execResize(w http.ResponseWriter, r *http.Request) {
	x, err := s.execByID(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	h, err1 := intValue(r, "h", 0)
	wd, err2 := intValue(r, "w", 0)
	if err1 != nil || err2 != nil || h < 0 || wd < 0 || h > 65535 || wd > 65535 {
		writeError(w, errdefs.InvalidArgumentf("invalid terminal size"))
		return
	}
	select {
	case x.resize <- [2]uint16{uint16(h), uint16(wd)}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) {
	x, err := s.execByID(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	cr := x.req
	out := container.ExecInspectResponse{ID: x.id, Running: x.running, ExitCode: x.exitCode, ContainerID: x.container,
		OpenStdin: cr.AttachStdin, OpenStdout: cr.AttachStdout, OpenStderr: cr.AttachStderr,
		ProcessConfig: &container.ExecProcessConfig{Tty: cr.Tty, Entrypoint: cr.Cmd[0], Arguments: cr.Cmd[1:], User: cr.User, Privileged: &cr.Privileged}}
	writeJSON(w, http.StatusOK, out)
}

// statsResponse is docker's stats object of one sample; pre is the last
// one's CPU figures. The CPU use is given so that docker's formula
// (usage delta / system delta × CPUs × 100) gives the sampled percentage.
func statsResponse(c *engine.Container, st engine.Stats, pre container.CPUStats) container.StatsResponse {
	now := time.Now()
	total := pre.CPUUsage.TotalUsage + uint64(st.CPUPercent*1e6)
	cpu := container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: total}, SystemUsage: pre.SystemUsage + 1e8, OnlineCPUs: 1}
	return container.StatsResponse{ID: c.ID, Name: "/" + c.Name, OSType: "linux", Read: now, PreRead: now.Add(-time.Second),
		CPUStats: cpu, PreCPUStats: pre,
		MemoryStats: container.MemoryStats{Usage: st.MemUsage, Limit: st.MemLimit},
		Networks:    map[string]container.NetworkStats{"eth0": {RxBytes: st.NetRx, TxBytes: st.NetTx}},
		PidsStats:   container.PidsStats{Current: st.Pids},
		BlkioStats: container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{
			{Op: "read", Value: st.BlockRead}, {Op: "write", Value: st.BlockWrite}}},
	}
}
