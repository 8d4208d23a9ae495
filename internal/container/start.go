package container

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// StartOptions control Start.
type StartOptions struct {
	// Streams, when set, are attached before the process starts; Start then
	// waits for the container to exit and returns its exit code.
	Streams *attach.Streams
	// Signals, when set with Streams, are forwarded to the container.
	Signals <-chan os.Signal
	// Monitor, when set, is a monitor started ahead (SpawnMonitor) to use
	// instead of starting one.
	Monitor *Monitor
	// Started, when set with Streams, is called once the process runs
	// (or, for a running container, once attached), before Start streams
	// until the exit: a front-end that answers "started" while the
	// streams go on (the Engine API's start of an attached container).
	Started func()
}

// Start starts a created or exited container through a new monitor. Without
// Streams it returns once the process runs (code 0). A failure to start the
// process is a *StartError carrying docker's exit code.
func (m *Manager) Start(ctx context.Context, ref string, o StartOptions) (int, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	return m.start(ctx, c, o)
}

// StartCreated starts c, just returned by Create, as Start does but
// without looking it up again (run).
func (m *Manager) StartCreated(ctx context.Context, c *Container, o StartOptions) (int, error) {
	return m.start(ctx, c, o)
}

func (m *Manager) start(ctx context.Context, c *Container, o StartOptions) (int, error) {
	unlock, err := c.lockState()
	if err != nil {
		return 0, err
	}
	if c.State.Running() {
		unlock()
		if o.Streams == nil {
			return 0, nil // docker: starting a running container is a no-op
		}
		return m.attach(ctx, c, o)
	}
	if c.State.Status == StatusRemoving {
		unlock()
		return 0, errdefs.Conflictf("container %s is marked for removal and cannot be started", c.ID)
	}
	// The previous run's monitor tears down its network and runtime record
	// after reporting the exit: let it finish before this run makes new ones.
	c.waitMonitorGone(10 * time.Second)
	if err := c.clearManualStop(); err != nil { // a start forgets the user's stop (docker's)
		unlock()
		return 0, err
	}
	conn, exited, ok := o.Monitor.take(c.ID)
	if !ok {
		conn, exited, err = m.spawnMonitor(c)
		if err != nil {
			unlock()
			return 0, err
		}
	}
	defer conn.Close()
	// The rootfs, the bundle and the network are made here while the
	// monitor, a new process, starts up.
	netw, err := m.prepareStart(ctx, c)
	if err != nil {
		// The monitor stops when it finds the starter gone: wait for it,
		// so that nothing of this start outlives the error.
		conn.Close()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
		}
		unlock()
		return 0, &StartError{Code: 125, Msg: err.Error()}
	}
	// Until the monitor is told Start, the network is this process's to
	// stop (the monitor unmounts the rootfs when it finds us gone).
	failed := func(err error) (int, error) {
		m.abandonNetwork(c, netw)
		unlock()
		return 0, err
	}
	r := bufio.NewReader(conn)
	msg, err := readSync(r)
	if err != nil {
		return failed(fmt.Errorf("container monitor for %s failed: %w", c.ID, err))
	}
	if msg.Error != "" {
		return failed(&StartError{Code: msg.Code, Msg: msg.Error})
	}
	var ac *attach.Conn
	if o.Streams != nil {
		// Registered before the process starts: a container that exits
		// at once (a fast runtime) must not exit before the monitor has
		// taken this client, which would then lose the output and the
		// exit code (run --rm: the container gone too, "No such
		// container" from the fallback Wait).
		ac, err = attach.DialRegistered(c.dir, o.Streams)
		if err != nil {
			return failed(fmt.Errorf("attach to %s: %w", c.ID, err))
		}
	}
	startMsg := syncMsg{Start: true, Net: netw != nil, NetPid: netw.Pid()}
	if o.Streams != nil {
		startMsg.Height, startMsg.Width = o.Streams.Height, o.Streams.Width
	}
	b, _ := json.Marshal(startMsg)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return failed(fmt.Errorf("start %s: %w", c.ID, err))
	}
	netw.Release() // the monitor's now
	msg, err = readSync(r)
	unlock()
	if err != nil {
		return 0, fmt.Errorf("container monitor for %s failed: %w", c.ID, err)
	}
	if msg.Error != "" {
		if ac != nil {
			ac.Close()
		}
		return 0, &StartError{Code: msg.Code, Msg: msg.Error}
	}
	if ac == nil {
		return 0, nil
	}
	if o.Started != nil {
		o.Started()
	}
	return m.streamUntilExit(ctx, c, ac, o)
}

func readSync(r *bufio.Reader) (syncMsg, error) {
	var msg syncMsg
	line, err := r.ReadBytes('\n')
	if err != nil {
		return msg, fmt.Errorf("monitor exited early")
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		return msg, fmt.Errorf("bad monitor message %q", line)
	}
	return msg, nil
}

// spawnMonitor starts `hoist container-monitor ID` in its own session and
// returns the starter's end of the sync socketpair and a channel closed
// when the monitor has exited.
func (m *Manager) spawnMonitor(c *Container) (*os.File, <-chan struct{}, error) {
	return m.spawnMonitorFor(c.ID, c.dir)
}

// pendingID is the monitor's ID argument when it is started ahead of its
// container and told the ID later, as the first sync message.
const pendingID = "-"

// spawnMonitorFor starts a monitor for the container id ("-": told later)
// whose errors go to dir/monitor.log ("": discarded until it knows its
// container).
func (m *Manager) spawnMonitorFor(id, dir string) (*os.File, <-chan struct{}, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "monitor-sync")
	child := os.NewFile(uintptr(fds[1]), "monitor-sync-child")
	defer child.Close()
	cmd := m.selfCommand(MonitorVerb, id)
	cmd.ExtraFiles = []*os.File{child}
	// The monitor's own errors (it has no terminal) go to monitor.log.
	if dir != "" {
		if lf, err := os.OpenFile(filepath.Join(dir, "monitor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			defer lf.Close()
			cmd.Stderr = lf
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		parent.Close()
		return nil, nil, fmt.Errorf("start container monitor: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // reap it if we live longer than it does
	return parent, exited, nil
}

// Monitor is a monitor process started before its container exists
// (SpawnMonitor), so that its start-up overlaps the creation of the
// container. Start uses it when given in StartOptions.Monitor.
type Monitor struct {
	conn   *os.File
	exited <-chan struct{}
}

// SpawnMonitor starts a monitor that waits to be told its container. Pass
// it to Start (once); Close it when it is not used (it then exits).
func (m *Manager) SpawnMonitor() (*Monitor, error) {
	conn, exited, err := m.spawnMonitorFor(pendingID, "")
	if err != nil {
		return nil, err
	}
	return &Monitor{conn: conn, exited: exited}, nil
}

// Close releases a monitor that Start did not take.
func (p *Monitor) Close() error {
	if p == nil || p.conn == nil {
		return nil
	}
	err := p.conn.Close()
	p.conn = nil
	return err
}

// take hands the monitor to the start of container id: it is told the ID
// and then is this start's monitor. It fails (and the caller spawns one)
// when the monitor is gone or was taken.
func (p *Monitor) take(id string) (*os.File, <-chan struct{}, bool) {
	if p == nil || p.conn == nil {
		return nil, nil, false
	}
	conn := p.conn
	p.conn = nil
	b, _ := json.Marshal(syncMsg{ID: id})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, nil, false
	}
	return conn, p.exited, true
}

// streamUntilExit copies an attached container's stdio, forwards signals,
// and returns its exit code.
func (m *Manager) streamUntilExit(ctx context.Context, c *Container, ac *attach.Conn, o StartOptions) (int, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig, ok := <-o.Signals:
				if !ok {
					return
				}
				if s, ok := sig.(syscall.Signal); ok {
					m.runtimeRun(context.WithoutCancel(ctx), c, "kill", c.ID, fmt.Sprint(int(s)))
				}
			case <-done:
				return
			}
		}
	}()
	code, ok := ac.Stream(o.Streams)
	if ok {
		return code, nil
	}
	if ac.Detached() {
		return 0, nil // docker: detaching is a success; the container goes on
	}
	return m.Wait(context.WithoutCancel(ctx), c.ID)
}

// attach connects to a running container's monitor and streams until exit.
func (m *Manager) attach(ctx context.Context, c *Container, o StartOptions) (int, error) {
	ac, err := attach.Dial(c.dir, o.Streams)
	if err != nil {
		return 0, errdefs.FailedPreconditionf("cannot attach to %s: its monitor is gone: %v", c.ID, err)
	}
	if o.Started != nil {
		o.Started()
	}
	return m.streamUntilExit(ctx, c, ac, o)
}

// Attach attaches streams to a running container until it exits.
func (m *Manager) Attach(ctx context.Context, ref string, o StartOptions) (int, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	if !c.State.Running() {
		return 0, errdefs.FailedPreconditionf("You cannot attach to a stopped container, start it first")
	}
	if c.State.Status == StatusRestarting {
		return 0, errdefs.FailedPreconditionf("You cannot attach to a restarting container, wait until it is running")
	}
	return m.attach(ctx, c, o)
}

// waitMonitorGone waits (up to timeout) until the container's last monitor
// has exited.
func (c *Container) waitMonitorGone(timeout time.Duration) {
	if !c.monitorAlive() {
		return
	}
	pid := c.State.MonitorPid
	fd, err := unix.PidfdOpen(pid, 0)
	if err == nil {
		defer unix.Close(fd)
		// (Checked after the open: the pidfd is of the monitor, not of a
		// reused pid.) The pidfd becomes readable when the process exits.
		for deadline := time.Now().Add(timeout); c.monitorAlive(); {
			left := time.Until(deadline)
			if left <= 0 {
				return
			}
			_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
			if err != unix.EINTR {
				return
			}
		}
		return
	}
	for deadline := time.Now().Add(timeout); c.monitorAlive() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}
