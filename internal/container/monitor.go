package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/container/health"
	"github.com/hoistproject/hoist/internal/container/logfile"
	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/container/proc"
	"github.com/hoistproject/hoist/internal/container/runtime"
	"github.com/hoistproject/hoist/internal/container/unixsock"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/reference"
)

// syncMsg is exchanged on the pipe between the starting command and the
// monitor (the monitor's fd 3, a socketpair).
type syncMsg struct {
	ID      string `json:",omitempty"` // starter -> a monitor started ahead: its container
	Ready   bool   `json:",omitempty"` // monitor -> starter: prepared, waiting for Start
	Start   bool   `json:",omitempty"` // starter -> monitor: go
	Started bool   `json:",omitempty"` // monitor -> starter: process running
	Pid     int    `json:",omitempty"`
	// Net and NetPid (starter -> monitor, with Start): the bridge network
	// the starter brought up, and its slirp4netns (0: loopback only).
	Net    bool   `json:",omitempty"`
	NetPid int    `json:",omitempty"`
	Error  string `json:",omitempty"` // monitor -> starter: failed
	Code   int    `json:",omitempty"` // exit code for Error (125, 126, 127)
	// Height and Width (starter -> monitor, with Start) size the tty
	// before the process starts.
	Height uint16 `json:",omitempty"`
	Width  uint16 `json:",omitempty"`
}

type monitor struct {
	m   *Manager
	c   *Container
	ctx context.Context

	srv *attach.Server
	net *network.Bridge

	stdinW  *os.File // container stdin (non-tty, -i)
	stdoutR *os.File
	stderrR *os.File
	pty     *os.File

	mu   sync.Mutex // guards the stdio and the terminal size below
	winH uint16
	winW uint16

	log *logfile.Writer

	copyDone chan struct{}

	// wake is told (wakeSignal) when the user stops a container waiting
	// to be restarted; backoff is the delay before the next restart.
	wake    chan os.Signal
	backoff backoff
}

// RunMonitor is the body of the hidden `hoist container-monitor ID` command:
// it owns the container's lifetime until its process exits. syncFile is the
// socketpair end shared with the starting command.
func (m *Manager) RunMonitor(ctx context.Context, id string, syncFile *os.File) error {
	sr := bufio.NewReader(syncFile)
	if id == pendingID {
		if id = m.awaitContainerID(sr); id == "" {
			return nil // the starter gave up
		}
	}
	c, err := m.load(id)
	if err != nil {
		return err
	}
	mon := &monitor{m: m, c: c, ctx: context.WithoutCancel(ctx), wake: make(chan os.Signal, 1)}
	signal.Notify(mon.wake, wakeSignal) // before the state names this process
	reply := func(msg syncMsg) {
		b, _ := json.Marshal(msg)
		syncFile.Write(append(b, '\n'))
	}
	pid, err := mon.startUp(sr, reply)
	if err != nil {
		return err
	}
	c.State = State{Status: StatusRunning, Pid: pid, MonitorPid: os.Getpid(),
		MonitorStart: proc.StartTime(os.Getpid()), StartedAt: timeNow(), NetPid: mon.net.Pid()}
	if err := c.saveState(); err != nil {
		m.log.Warn("save state", "container", c.ID, "err", err)
	}
	reply(syncMsg{Started: true, Pid: pid})
	m.event(c, "start", nil)
	syncFile.Close()
	mon.end(mon.supervise(pid))
	return nil
}

// awaitContainerID is, for a monitor started ahead of its container
// (SpawnMonitor), the container it is told to run ("" when the starter
// gave up and closed its end); its log then goes to that container's
// monitor.log.
func (m *Manager) awaitContainerID(sr *bufio.Reader) string {
	line, err := sr.ReadBytes('\n')
	var msg syncMsg
	if err != nil || json.Unmarshal(line, &msg) != nil || !reference.IsFullID(msg.ID) {
		return ""
	}
	if lf, err := os.OpenFile(filepath.Join(m.containersDir(), msg.ID, "monitor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		unix.Dup2(int(lf.Fd()), 2)
		lf.Close()
	}
	return msg.ID
}

// startUp is the hand-shake with the starter: prepare the container
// (rootfs, attach server), say ready, wait for its start request (with
// the network it set up), start the process. Every failure is answered
// to the starter and leaves nothing behind.
func (mon *monitor) startUp(sr *bufio.Reader, reply func(syncMsg)) (int, error) {
	m, c := mon.m, mon.c
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		reply(syncMsg{Error: "set child subreaper: " + err.Error(), Code: 125})
		return 0, err
	}
	if err := mon.prepare(); err != nil {
		mon.cleanup()
		reply(syncMsg{Error: err.Error(), Code: 125})
		return 0, err
	}
	go mon.srv.Serve()
	reply(syncMsg{Ready: true})
	line, err := sr.ReadBytes('\n')
	var req syncMsg
	if err != nil || json.Unmarshal(line, &req) != nil || !req.Start {
		mon.cleanup()
		// A starter that failed stopped its network and cleared NetPid
		// before going; one that was killed could not.
		if c.loadState() == nil {
			m.cleanupNetwork(c)
		}
		return 0, fmt.Errorf("starter went away before start")
	}
	if req.Net {
		mon.net = m.adoptNetwork(c, req.NetPid) // cleanup() stops it
	}
	if req.Height > 0 {
		mon.mu.Lock()
		mon.winH, mon.winW = req.Height, req.Width
		mon.mu.Unlock()
	}
	pid, serr := mon.startProcess()
	if serr != nil {
		mon.cleanup()
		code := 125
		var se *StartError
		if errors.As(serr, &se) {
			code = se.Code
		}
		c.State = State{Status: StatusCreated, ExitCode: code, Error: serr.Error()}
		c.saveState()
		reply(syncMsg{Error: serr.Error(), Code: code})
		mon.finish(code, false)
		return 0, serr
	}
	return pid, nil
}

// supervise waits for the process and each exit records its state and
// events; the restart policy decides whether (and after which back-off)
// a new process starts. It returns the last exit code.
func (mon *monitor) supervise(pid int) int {
	m, c := mon.m, mon.c
	for {
		code, oomKilled := mon.watch(pid)
		mon.drainOutput()
		c.State.Health = c.exitedHealth()
		c.State.ExitCode = code
		c.State.Pid = 0
		c.State.FinishedAt = timeNow()
		c.State.OOMKilled = oomKilled
		if oomKilled {
			m.event(c, "oom", nil)
		}
		m.event(c, "die", map[string]string{"exitCode": strconv.Itoa(code)})
		delay, again := mon.restartDecision(code, c.State.FinishedAt.Sub(c.State.StartedAt))
		if !again {
			return code
		}
		// Restarting (docker's state between the exit and the new
		// process): clients attached to this run get its exit code.
		c.State.Status = StatusRestarting
		c.State.RestartCount++
		if err := c.saveState(); err != nil {
			m.log.Warn("save state", "container", c.ID, "err", err)
		}
		mon.srv.RunExited(code)
		if !mon.waitRestart(delay) {
			return code
		}
		var err error
		if pid, err = mon.restart(); err != nil {
			if !errors.Is(err, errRestartCancelled) {
				c.State.Error = err.Error()
				var se *StartError
				if errors.As(err, &se) {
					c.State.ExitCode = se.Code
				}
			}
			return code
		}
		m.event(c, "start", nil)
	}
}

// end tears the container down after its last exit: the rootfs, the
// state (or the container, with --rm), the clients told the exit code,
// then the network and the runtime's record.
func (mon *monitor) end(code int) {
	m, c := mon.m, mon.c
	netw := mon.net
	mon.net = nil // stopped after the clients know the exit code
	mon.cleanup() // unmounts the rootfs
	c.State.Status = StatusExited
	removed := false
	if c.HostConfig.AutoRemove {
		if err := m.unregister(c, true); err == nil {
			removed = true
		}
	}
	if !removed {
		if netw != nil {
			m.networkExited(c) // a stopped container holds no address
		}
		if err := c.saveState(); err != nil {
			m.log.Warn("save state", "container", c.ID, "err", err)
		}
	}
	mon.finish(code, true)
	// The container's directory, the network helper and the runtime's
	// record go last: clients need not wait for them (the container is
	// already gone for every command, and a new start of this container
	// deletes a leftover runtime record first).
	if removed {
		if err := m.removeDir(c); err != nil {
			m.log.Warn("remove", "container", c.ID, "err", err)
		}
	}
	netw.Stop()
	_ = m.runtimeRun(mon.ctx, c, "delete", "--force", c.ID)
}

// watch runs the healthcheck of the process pid while waiting for its
// exit; it returns the exit code and whether the kernel's OOM killer
// ended it.
func (mon *monitor) watch(pid int) (code int, oomKilled bool) {
	m, c := mon.m, mon.c
	var healthDone chan struct{}
	var healthGate recordGate
	if health.Args(c.Config.Healthcheck) != nil {
		healthDone = make(chan struct{})
		probed := *c // its own copy: it reloads and saves the state
		go m.checkHealth(&probed, c.State.StartedAt, healthDone, &healthGate)
	}

	memcg, own := proc.ContainerMemoryCgroup(pid, cgroupName(c))
	oomBefore := 0 // the container's own cgroup is new: its every OOM kill is this run's
	if !own {
		oomBefore = proc.OOMKills(memcg)
	}
	code = waitContainer(pid)
	if healthDone != nil {
		close(healthDone)
		healthGate.close() // a record under way finishes; none follows
	}
	oomKilled = proc.OOMKills(memcg) > oomBefore
	patience := 20 // x 10 ms
	if own && proc.MemoryLimitHit(memcg) {
		patience = 300 // the limit was hit: an OOM kill is all but certain
	}
	for i := 0; !oomKilled && code == 137 && memcg != "" && c.HostConfig.Memory > 0 && i < patience; i++ {
		// Killed by SIGKILL with a memory limit set: under load the cgroup's
		// OOM counter can lag the victim's exit; give it a moment before
		// calling it not an OOM kill. (Without a limit, stop/kill/rm -f
		// SIGKILLs must not wait here; with one never reached, only briefly.)
		time.Sleep(10 * time.Millisecond)
		oomKilled = proc.OOMKills(memcg) > oomBefore
	}
	return code, oomKilled
}

// readPidFile reads the pid the runtime wrote with --pid-file.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("runtime wrote no pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("bad pid file %s: %w", path, err)
	}
	return pid, nil
}

// waitChild waits for the child pid alone and returns its docker-style
// status (128+signal when killed; 255 if it cannot be waited for). The
// monitor, a subreaper, inherits the container's process when the runtime
// exits; it waits for that one only, so that the commands it runs itself
// meanwhile (health probes) keep their own exit statuses.
func waitChild(pid int) int { return waitExit(pid, pid) }

// reapUntil is waitChild for a subreaper that runs no command of its own
// (the exec monitor): it reaps every child it has until pid has exited.
func reapUntil(pid int) int { return waitExit(pid, -1) }

// waitExit reaps children as wait4(which) does until pid has exited, and
// returns pid's status.
func waitExit(pid, which int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(which, &ws, 0, nil)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// ECHILD: not (yet) ours. A runtime's intermediate process may
			// not have exited yet, so the process is not yet handed to the
			// subreaper: wait while it exists.
			if errors.Is(err, unix.ECHILD) && unix.Kill(pid, 0) == nil {
				time.Sleep(time.Millisecond)
				continue
			}
			return 255 // lost track of it
		}
		switch {
		case got != pid: // an orphan, reaped
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
	}
}

// waitContainer is waitChild for the container's init, pid, that also
// reaps, meanwhile, the zombies the monitor inherits as a subreaper from
// the container's pid namespace: a health probe's process whose runtime
// died before reaping it (runc exec leaves the process it was starting
// when its setup fails, e.g. because the container is being killed). A
// pid namespace's init does not finish exiting until every process of the
// namespace has been reaped, so one such zombie left alone would keep the
// container from ever stopping. The monitor itself starts no process in
// that namespace, so each of its zombie children there is such an orphan
// (its own children, the runtime's invocations, keep their statuses).
func waitContainer(pid int) int {
	ns, err := proc.PidNamespace(pid)
	own, ownErr := proc.PidNamespace(os.Getpid())
	if err != nil || ownErr != nil || ns == own {
		return waitChild(pid) // no pid namespace of its own (--pid host)
	}
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, unix.SIGCHLD)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			for _, z := range proc.ZombieChildren(os.Getpid()) {
				if z == pid {
					continue // waitChild's
				}
				if zns, err := proc.PidNamespace(z); err == nil && zns == ns {
					var ws unix.WaitStatus
					unix.Wait4(z, &ws, unix.WNOHANG, nil)
				}
			}
			select {
			case <-sigchld: // an orphan inherited as a zombie, or one exited
			case <-stop:
				return
			}
		}
	}()
	code := waitChild(pid)
	signal.Stop(sigchld)
	close(stop)
	<-stopped
	return code
}

// prepare sets up what the monitor owns from the start: the attach socket
// and the log. The rootfs, the runtime bundle and the user-mode network are
// the starter's (prepareStart), made while this process starts; the
// network is handed over with Start.
func (mon *monitor) prepare() error {
	c := mon.c
	srv, err := attach.Listen(c.dir, mon)
	if err != nil {
		return fmt.Errorf("attach socket: %w", err)
	}
	mon.srv = srv
	rot, err := c.HostConfig.LogConfig.rotation()
	if err != nil {
		return err
	}
	logPath := c.LogPath()
	if c.HostConfig.LogConfig.Type == "none" {
		logPath = os.DevNull // --log-driver none: no log kept
	}
	lw, err := logfile.Open(logPath, rot)
	if err != nil {
		return err
	}
	mon.log = lw
	return nil
}

// prepareStart mounts c's rootfs, writes its runtime bundle and, with
// the bridge network, brings up its network namespace and slirp4netns
// (recorded as State.NetPid, so that whoever cleans up after a killed
// starter stops it). Start runs it while the monitor starts up; on error
// nothing is left.
func (m *Manager) prepareStart(ctx context.Context, c *Container) (*network.Bridge, error) {
	// The network takes longest: it starts at once on this goroutine, the
	// bundle on another (whose start may lag while the runtime makes a
	// thread for it).
	var err error
	bundleDone := make(chan struct{})
	go func() {
		defer close(bundleDone)
		err = m.prepareBundle(ctx, c)
	}()
	var netw *network.Bridge
	var netErr error
	if c.netKind() == "bridge" {
		netw, netErr = m.startNetwork(ctx, c)
	}
	<-bundleDone
	if err == nil {
		err = netErr
	}
	if err == nil && c.netKind() == "bridge" {
		// after the network: its addresses are leased as it comes up
		err = m.writeEtcFiles(ctx, c)
	}
	if err == nil && netw != nil {
		c.State.NetPid = netw.Pid()
		err = c.saveState()
	}
	if err != nil {
		m.abandonNetwork(c, netw)
		mount.UnmountAll(filepath.Join(c.dir, "rootfs"))
		return nil, err
	}
	return netw, nil
}

// abandonNetwork stops a network prepareStart brought up that no monitor
// took, and forgets its pid.
func (m *Manager) abandonNetwork(c *Container, netw *network.Bridge) {
	if netw == nil {
		return
	}
	netw.Stop()
	if c.State.NetPid != 0 {
		c.State.NetPid = 0
		c.saveState()
	}
}

// prepareBundle mounts c's rootfs and writes its runtime bundle (volumes
// populated, /etc files but those of a bridge network, which prepareStart
// writes once the network is up, config.json); on error nothing stays
// mounted.
func (m *Manager) prepareBundle(ctx context.Context, c *Container) (err error) {
	rootfs := filepath.Join(c.dir, "rootfs")
	defer func() {
		if err != nil {
			mount.UnmountAll(rootfs)
		}
	}()
	if err := m.prepareRootfs(ctx, c); err != nil {
		return err
	}
	if err := m.populateVolumes(ctx, c, rootfs); err != nil {
		return err
	}
	if c.netKind() != "bridge" {
		if err := m.writeEtcFiles(ctx, c); err != nil {
			return err
		}
	}
	spec, err := m.buildSpec(c, rootfs)
	if err != nil {
		return err
	}
	if err := runtime.WriteConfig(filepath.Join(c.dir, "bundle"), m.runtimeOf(c), spec); err != nil {
		return err
	}
	for _, mp := range c.Mounts {
		if mp.Type == "bind" {
			if _, err := os.Stat(mp.Source); err != nil {
				return fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s", mp.Source)
			}
		}
	}
	return nil
}

// startProcess runs `runtime run --detach` and returns the container's pid.
func (mon *monitor) startProcess() (int, error) {
	c := mon.c
	pidFile := filepath.Join(c.dir, "init.pid")
	logPath := filepath.Join(c.dir, "runtime.log")
	os.Remove(pidFile)
	os.Remove(logPath)
	m := mon.m
	rtRoot := m.runtimeRoot(m.runtimeOf(c))
	os.MkdirAll(rtRoot, 0o700)
	// A stale runtime record (from a killed monitor) blocks reuse of the ID.
	if _, err := os.Stat(filepath.Join(rtRoot, c.ID)); err == nil {
		_ = m.runtimeRun(mon.ctx, c, "delete", "--force", c.ID)
	}
	// With a tty: create, size the terminal, then start, so the process
	// never sees a 0x0 terminal. Otherwise one `run --detach`.
	args := append(m.ociRuntime(c).LogArgs(logPath), "run", "--detach",
		"--bundle", filepath.Join(c.dir, "bundle"), "--pid-file", pidFile)
	if c.Config.Tty {
		args = append(m.ociRuntime(c).LogArgs(logPath), "create",
			"--bundle", filepath.Join(c.dir, "bundle"), "--pid-file", pidFile)
	}
	cmd := m.runtimeCmd(mon.ctx, c, args...)
	var closeAfter []*os.File
	defer func() {
		for _, f := range closeAfter {
			f.Close()
		}
	}()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	closeAfter = append(closeAfter, devnull)
	var consoleL *net.UnixListener
	var ptyCh chan *os.File
	var errBuf strings.Builder
	var errPipeDone chan struct{}
	if c.Config.Tty {
		consoleL, err = unixsock.Listen(c.dir, "console.sock")
		if err != nil {
			return 0, fmt.Errorf("console socket: %w", err)
		}
		defer func() {
			consoleL.Close()
			os.Remove(filepath.Join(c.dir, "console.sock"))
		}()
		p, f, err := unixsock.Path(c.dir, "console.sock")
		if err != nil {
			return 0, err
		}
		if f != nil {
			defer f.Close()
		}
		p = unixsock.ForChild(p, f)
		cmd.Args = append(cmd.Args[:len(cmd.Args)], "--console-socket", p)
		ptyCh = make(chan *os.File, 1)
		go func() {
			f, err := runtime.RecvConsole(consoleL)
			if err != nil {
				close(ptyCh)
				return
			}
			ptyCh <- f
		}()
		cmd.Stdin, cmd.Stdout = devnull, devnull
		er, ew, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		cmd.Stderr = ew
		closeAfter = append(closeAfter, ew)
		errPipeDone = make(chan struct{})
		go func() { io.Copy(&errBuf, io.LimitReader(er, 64*1024)); er.Close(); close(errPipeDone) }()
	} else {
		cmd.Stdin = devnull
		if c.Config.OpenStdin {
			r, w, err := os.Pipe()
			if err != nil {
				return 0, err
			}
			cmd.Stdin = r
			closeAfter = append(closeAfter, r)
			mon.stdinW = w
		}
		or, ow, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		er, ew, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		cmd.Stdout, cmd.Stderr = ow, ew
		closeAfter = append(closeAfter, ow, ew)
		mon.stdoutR, mon.stderrR = or, er
	}
	cmd.Args = append(cmd.Args, c.ID)
	runErr := cmd.Run()
	for _, f := range closeAfter {
		f.Close()
	}
	closeAfter = nil
	if runErr != nil {
		var ee *exec.ExitError
		if !errors.As(runErr, &ee) {
			// The runtime did not run at all: say why.
			return 0, fmt.Errorf("starting %s: %w", filepath.Base(cmd.Path), runErr)
		}
		fallback := ""
		if errPipeDone != nil {
			<-errPipeDone
			fallback = errBuf.String()
		} else if mon.stderrR != nil {
			b, _ := io.ReadAll(io.LimitReader(mon.stderrR, 64*1024))
			fallback = string(b)
		}
		return 0, classifyStartError(runtime.LastError(logPath, fallback), c.Path)
	}
	pid, err := readPidFile(pidFile)
	if err != nil {
		return 0, err
	}
	if c.Config.Tty {
		select {
		case f, ok := <-ptyCh:
			if ok {
				mon.mu.Lock()
				mon.pty = f
				if mon.winH > 0 {
					unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: mon.winH, Col: mon.winW})
				}
				mon.mu.Unlock()
				mon.stdoutR = f
			}
		case <-time.After(10 * time.Second):
		}
		if err := m.runtimeRun(mon.ctx, c, "start", c.ID); err != nil {
			_ = m.runtimeRun(mon.ctx, c, "delete", "--force", c.ID)
			return 0, classifyStartError(err.Error(), c.Path)
		}
	}
	mon.copyOutput()
	return pid, nil
}

// copyOutput starts copying the container's output to the log and clients.
func (mon *monitor) copyOutput() {
	mon.copyDone = make(chan struct{})
	var wg sync.WaitGroup
	if mon.stdoutR != nil {
		wg.Add(1)
		go func() { defer wg.Done(); mon.copyStream(mon.stdoutR, "stdout", mon.srv.Stdout) }()
	}
	if mon.stderrR != nil && mon.pty == nil {
		wg.Add(1)
		go func() { defer wg.Done(); mon.copyStream(mon.stderrR, "stderr", mon.srv.Stderr) }()
	}
	go func() { wg.Wait(); close(mon.copyDone) }()
}

func (mon *monitor) copyStream(r io.Reader, stream string, send func([]byte)) {
	buf := make([]byte, 32*1024)
	lw := mon.log.Stream(stream)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			send(buf[:n])
			lw.Write(buf[:n])
		}
		if err != nil {
			lw.Flush()
			return
		}
	}
}

// drainOutput waits (bounded) for the output copiers to reach EOF.
func (mon *monitor) drainOutput() {
	if mon.copyDone == nil {
		return
	}
	select {
	case <-mon.copyDone:
	case <-time.After(2 * time.Second):
	}
}

// Stdin is attached clients' input (attach.Input): to the pty with -t,
// else to the container's stdin pipe (-i).
func (mon *monitor) Stdin(p []byte) {
	mon.mu.Lock()
	w := mon.stdinW
	if mon.pty != nil {
		w = mon.pty
	}
	mon.mu.Unlock()
	if w != nil {
		w.Write(p)
	}
}

// CloseStdin closes the container's stdin when a client's input ended
// and the container has StdinOnce.
func (mon *monitor) CloseStdin() {
	mon.mu.Lock()
	if mon.stdinW != nil && mon.c.Config.StdinOnce {
		mon.stdinW.Close()
		mon.stdinW = nil
	}
	mon.mu.Unlock()
}

// Resize sizes the container's terminal (and remembers the size for a
// pty not made yet).
func (mon *monitor) Resize(h, w uint16) {
	mon.mu.Lock()
	mon.winH, mon.winW = h, w
	if mon.pty != nil {
		unix.IoctlSetWinsize(int(mon.pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: h, Col: w})
	}
	mon.mu.Unlock()
}

// finish tells every attached client the exit code and stops serving.
func (mon *monitor) finish(code int, notify bool) {
	if mon.srv != nil {
		mon.srv.Exit(code, notify)
	}
}

// cleanup releases what prepare set up in the monitor (not the runtime's
// container): network, log, stdio.
func (mon *monitor) cleanup() {
	if mon.net != nil {
		mon.net.Stop()
		mon.net = nil
	}
	mon.closeStdio()
	if mon.log != nil {
		mon.log.Close()
	}
	mount.UnmountAll(filepath.Join(mon.c.dir, "rootfs"))
}

// closeStdio closes the container's stdio of the last run.
func (mon *monitor) closeStdio() {
	mon.mu.Lock()
	defer mon.mu.Unlock()
	for _, f := range []*os.File{mon.stdinW, mon.stdoutR, mon.stderrR, mon.pty} {
		if f != nil {
			f.Close()
		}
	}
	mon.stdinW, mon.stdoutR, mon.stderrR, mon.pty = nil, nil, nil, nil
}

// cleanupAfterExit removes the runtime's record of c, its network helper and
// its rootfs mount. Safe to call more than once and from any process.
func (m *Manager) cleanupAfterExit(ctx context.Context, c *Container) {
	_ = m.runtimeRun(context.WithoutCancel(ctx), c, "delete", "--force", c.ID)
	m.cleanupNetwork(c)
	mount.UnmountAll(filepath.Join(c.dir, "rootfs"))
}

// cleanupNetwork stops c's slirp4netns or ports proxy, takes its
// interfaces down and removes its network namespace.
func (m *Manager) cleanupNetwork(c *Container) {
	m.networkDown(c, c.State.NetPid, false)()
	network.Cleanup(c.dir, c.State.NetPid)
}
