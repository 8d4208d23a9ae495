package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/container/proc"
	"github.com/hoistproject/hoist/internal/container/runtime"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/container/unixsock"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Tty        bool
	Detach     bool
	Privileged bool
	// KillOnCancel kills the process when ctx ends before it does (a
	// healthcheck probe past its timeout), or as soon as it starts when
	// ctx ends while the runtime is still starting it; otherwise it
	// outlives ctx, as docker exec's process outlives its client.
	KillOnCancel bool
}

// Exec runs a process in the running container and returns its exit code
// (0 when detached).
func (m *Manager) Exec(ctx context.Context, ref string, o ExecOptions, s *attach.Streams) (int, error) {
	c, err := m.execTarget(ctx, ref, o)
	if err != nil {
		return 0, err
	}
	proc, err := execProcess(c, o)
	if err != nil {
		return 0, err
	}
	f := newExecFiles(c, time.Now())
	defer f.remove()
	b, _ := json.Marshal(proc)
	if err := os.WriteFile(f.proc, b, 0o600); err != nil {
		return 0, err
	}
	rt := m.ociRuntime(c)
	args := append(rt.LogArgs(f.log), "exec", "--process", f.proc, "--pid-file", f.pid)
	// With a terminal the runtime hands the pty over a console socket, which
	// it does only when it detaches: the exec monitor (a child process, see
	// RunExecMonitor) then waits for the process, and exits with its status.
	waitOwn := o.Tty && !o.Detach
	if o.Detach || o.Tty {
		args = append(args, "--detach")
	}
	var consoleL *net.UnixListener
	if o.Tty {
		l, sock, closeSock, err := f.consoleSocket()
		if err != nil {
			return 0, err
		}
		defer closeSock()
		consoleL = l
		args = append(args, "--console-socket", sock)
	}
	args = append(args, c.ID)
	var cmd interface {
		Start() error
		Wait() error
	}
	var errBuf strings.Builder
	var procErr *runtime.ProcessStderr
	if waitOwn {
		mc := m.execMonitorCommand(rt, f.pid, args)
		mc.Stderr = &limitedBuf{b: &errBuf}
		cmd = mc
	} else {
		rc := rt.Command(context.WithoutCancel(ctx), args...)
		switch {
		case s != nil && !o.Tty && !o.Detach:
			rc.Stdin = s.Stdin
			rc.Stdout = s.Stdout
			procErr = rt.NewProcessStderr(orDiscard(s.Stderr), f.started)
			rc.Stderr = io.MultiWriter(procErr, &limitedBuf{b: &errBuf})
		case o.Tty:
			rc.Stderr = &limitedBuf{b: &errBuf}
		}
		// Detached without a terminal, the process is given the runtime's
		// own stdio: /dev/null, as docker's exec -d's output goes nowhere.
		// (A pipe to errBuf would be held by the process, and the runtime's
		// Wait, which copies it to its end, last as long as the process;
		// the runtime's errors are in its log.)
		cmd = rc
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	copied := make(chan struct{})
	if o.Tty {
		go copyExecTerminal(consoleL, s, copied)
	}
	if o.KillOnCancel {
		waited := make(chan struct{})
		defer close(waited)
		go killExecOnCancel(ctx, f.pid, waited)
	}
	err = cmd.Wait()
	if procErr != nil {
		procErr.Done(f.started())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, err
	}
	if err != nil && !f.started() {
		se := classifyExecError(runtime.LastError(f.log, errBuf.String()), o.Cmd[0])
		se.Shown = procErr != nil && procErr.Shows() && s.Stderr != nil
		return 0, se
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	if waitOwn {
		if code < 0 {
			code = 255 // the exec monitor was killed: lost track of the process
		}
		select { // the rest of its output (the pty reads EIO once it is gone)
		case <-copied:
		case <-time.After(2 * time.Second):
		}
	}
	return code, nil
}

// ExecMonitorVerb is the hidden verb of the exec monitor: hoist re-executed
// as "hoist --root ROOT exec-monitor RUNTIME RUNTIME-ROOT PID-FILE ARGS...".
const ExecMonitorVerb = "exec-monitor"

// execMonitorCommand is the exec monitor that runs the runtime with args
// (an exec that detaches, writing its process's pid to pidFile) and waits
// for that process.
func (m *Manager) execMonitorCommand(rt runtime.Runtime, pidFile string, args []string) *exec.Cmd {
	return m.selfCommand(ExecMonitorVerb, append([]string{rt.Binary, rt.Root, pidFile}, args...)...)
}

// MonitorVerb is the hidden verb of a container's monitor: hoist
// re-executed as "hoist --root ROOT container-monitor ID".
const MonitorVerb = "container-monitor"

// selfCommand is hoist re-executed on this root as the hidden verb with
// args (the monitors), in /.
func (m *Manager) selfCommand(verb string, args ...string) *exec.Cmd {
	argv := append(append([]string{}, m.opts.Self[1:]...), "--root", m.root, verb)
	cmd := exec.Command(m.opts.Self[0], append(argv, args...)...)
	cmd.Env = append(os.Environ(), m.opts.SelfEnv...)
	cmd.Dir = "/"
	return cmd
}

// RunExecMonitor is the exec monitor, the body of the hidden exec-monitor
// verb (args: the runtime's binary and state root, the pid file, the
// runtime's arguments). It returns its exit code: the exec'd process's
// docker-style status once the runtime started it, else the runtime's
// (its errors on stderr and in its log).
//
// The runtime exits once it has handed the process's pty over, leaving
// the process to be reparented: only a child subreaper gets it, and with
// it its exit status. Being one is a property of the whole process and
// lasts: every process orphaned below it from then on (a job the exec's
// shell leaves in a container that shares the host's pid namespace; a
// later exec -d's process, which its runtime leaves at once) becomes its
// child, which it must reap. A long-lived caller of Exec (hoist serve)
// cannot: reaping any child (wait(-1)) takes the statuses of the commands
// it runs itself from their exec.Cmd.Wait. So Exec never makes its own
// process a subreaper: this short-lived child is one, runs nothing else,
// and so may reap every child it gets until the exec's process exits.
// The orphans still alive then go to the next subreaper up or init.
func RunExecMonitor(args []string) int {
	if len(args) < 4 {
		fmt.Fprintln(os.Stderr, "exec-monitor: want RUNTIME RUNTIME-ROOT PID-FILE ARGS...")
		return 125
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "exec with a terminal: set child subreaper: %v\n", err)
		return 125
	}
	rt := runtime.Runtime{Binary: args[0], Root: args[1]}
	pidFile := args[2]
	cmd := rt.Command(context.Background(), args[3:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		if _, serr := os.Stat(pidFile); serr != nil { // it never ran
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() > 0 {
				return ee.ExitCode() // its own words are on stderr already
			}
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
	}
	pid, err := readPidFile(pidFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exec: %v\n", err)
		return 125
	}
	return reapUntil(pid)
}

// execTarget is the container ref names, if an exec may run in it now
// (running, not restarting or paused), with docker's refusals.
func (m *Manager) execTarget(ctx context.Context, ref string, o ExecOptions) (*Container, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running() {
		return nil, errdefs.Conflictf("Container %s is not running", c.ID)
	}
	if c.State.Status == StatusRestarting {
		return nil, errRestarting(c)
	}
	if c.State.Status == StatusPaused {
		return nil, errdefs.Conflictf("Container %s is paused, unpause the container before exec", c.ID)
	}
	if len(o.Cmd) == 0 {
		return nil, errdefs.InvalidArgumentf("No exec command specified")
	}
	return c, nil
}

// execProcess is the exec's process in c: its user (the exec's, else the
// container's), working directory, environment, and the container's own
// capabilities, groups and no-new-privileges (an exec must not get back
// what the container dropped); --privileged: all the host can grant. The
// runtime applies the container's seccomp filter to every exec'd
// process, --privileged or not, as docker.
func execProcess(c *Container, o ExecOptions) (specs.Process, error) {
	rootfs := filepath.Join(c.dir, "rootfs")
	userSpec := o.User
	if userSpec == "" {
		userSpec = c.Config.User
	}
	u, err := spec.ResolveUser(rootfs, userSpec)
	if err != nil {
		return specs.Process{}, err
	}
	cwd := o.WorkingDir
	if cwd == "" {
		cwd = c.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	hc := c.HostConfig
	caps, err := spec.ProcessCapabilities(u.UID, hc.CapAdd, hc.CapDrop, hc.Privileged || o.Privileged)
	if err != nil {
		return specs.Process{}, err
	}
	more, err := spec.ResolveGroups(rootfs, hc.GroupAdd)
	if err != nil {
		return specs.Process{}, err
	}
	sec, err := spec.ParseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return specs.Process{}, err
	}
	return specs.Process{
		Terminal:        o.Tty,
		User:            specs.User{UID: u.UID, GID: u.GID, AdditionalGids: append(u.Groups, more...)},
		Args:            o.Cmd,
		Env:             spec.WithHome(processEnv(c, o.Tty, o.Env), u.Home),
		Cwd:             cwd,
		Capabilities:    caps,
		NoNewPrivileges: sec.NoNewPrivileges,
	}, nil
}

// execFiles are the files of one exec in the container's directory: its
// process.json, the pid file the runtime writes once the process runs,
// the runtime's log, and the console socket's name.
type execFiles struct {
	dir                  string
	proc, pid, log, sock string
}

func newExecFiles(c *Container, now time.Time) execFiles {
	tag := "exec-" + strconv.FormatInt(now.UnixNano(), 36)
	return execFiles{dir: c.dir, proc: filepath.Join(c.dir, tag+".json"), pid: filepath.Join(c.dir, tag+".pid"),
		log: filepath.Join(c.dir, tag+".log"), sock: tag + ".sock"}
}

// started: the runtime wrote the pid file, so the process ran.
func (f execFiles) started() bool { _, err := os.Stat(f.pid); return err == nil }

func (f execFiles) remove() {
	os.Remove(f.proc)
	os.Remove(f.pid)
	os.Remove(f.log)
}

// consoleSocket listens for the runtime's pty (a long container directory
// reached through a short path); closeSock closes and removes it.
func (f execFiles) consoleSocket() (l *net.UnixListener, path string, closeSock func(), err error) {
	l, err = unixsock.Listen(f.dir, f.sock)
	if err != nil {
		return nil, "", nil, err
	}
	p, pf, err := unixsock.Path(f.dir, f.sock)
	if err != nil {
		l.Close()
		os.Remove(filepath.Join(f.dir, f.sock))
		return nil, "", nil, err
	}
	closeSock = func() {
		l.Close()
		os.Remove(filepath.Join(f.dir, f.sock))
		if pf != nil {
			pf.Close()
		}
	}
	return l, unixsock.ForChild(p, pf), closeSock, nil
}

// copyExecTerminal receives the exec's pty from the runtime and joins it
// to the client's streams (size, input, resizes, output); copied closes
// when the output ends.
func copyExecTerminal(consoleL *net.UnixListener, s *attach.Streams, copied chan<- struct{}) {
	defer close(copied)
	master, err := runtime.RecvConsole(consoleL)
	if err != nil {
		return
	}
	defer master.Close()
	if s != nil && s.Height > 0 {
		unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: s.Height, Col: s.Width})
	}
	if s != nil && s.Stdin != nil {
		go io.Copy(master, s.Stdin)
	}
	if s != nil && s.Resize != nil {
		go func() {
			for sz := range s.Resize {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: sz[0], Col: sz[1]})
			}
		}()
	}
	if s != nil && s.Stdout != nil {
		io.Copy(s.Stdout, master)
	} else {
		io.Copy(io.Discard, master)
	}
}

// killExecOnCancel kills the exec's process when ctx ends before waited
// closes. The runtime writes the pid file once the process runs; a
// runtime still setting it up (a slow one, under load) is let finish, and
// its process killed then. (Killing the runtime instead would leave its
// half-made process to the monitor.)
func killExecOnCancel(ctx context.Context, pidFile string, waited <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-waited:
		return
	}
	for {
		if pid, err := readPidFile(pidFile); err == nil {
			unix.Kill(pid, unix.SIGKILL)
			return
		}
		select {
		case <-waited:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// limitedBuf keeps the first max bytes written to it (64 KiB when max is
// 0): a runtime's error text, a probe's output.
type limitedBuf struct {
	b   *strings.Builder
	max int
}

func (l *limitedBuf) Write(p []byte) (int, error) {
	max := l.max
	if max == 0 {
		max = 64 * 1024
	}
	if room := max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// TopResult is `top`'s table.
type TopResult struct {
	Titles    []string
	Processes [][]string
}

// Top lists the container's processes as docker does: the host's `ps`
// run with psArgs (default -ef), keeping the rows of the container's
// processes (its last column takes the overhanging fields). Without a `ps`
// on the host, the default columns (UID PID PPID C STIME TTY TIME CMD) are
// read from /proc.
func (m *Manager) Top(ctx context.Context, ref string, psArgs ...string) (TopResult, error) {
	var res TopResult
	c, err := m.Get(ctx, ref)
	if err != nil {
		return res, err
	}
	if !c.State.Running() {
		return res, errdefs.Conflictf("Container %s is not running", c.ID)
	}
	if c.State.Status == StatusRestarting {
		return res, errRestarting(c)
	}
	out, err := m.runtimeCmd(ctx, c, "ps", "--format", "json", c.ID).Output()
	if err != nil {
		return res, fmt.Errorf("list processes of %s: %w", c.ID, err)
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return res, fmt.Errorf("list processes of %s: %w", c.ID, err)
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	ps, err := exec.LookPath("ps")
	if err != nil {
		if len(psArgs) != 1 || psArgs[0] != "-ef" {
			return res, errdefs.FailedPreconditionf("Error running ps: %v", err)
		}
		res.Titles = []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}
		for _, pid := range pids {
			if row, ok := proc.TopRow(pid); ok {
				res.Processes = append(res.Processes, row)
			}
		}
		return res, nil
	}
	psOut, err := exec.CommandContext(ctx, ps, psArgs...).Output()
	if err != nil {
		msg := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			msg, _, _ = strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n")
		}
		return res, errdefs.InvalidArgumentf("ps: %s", msg)
	}
	return filterPS(string(psOut), pids)
}

// filterPS keeps the rows of ps output whose PID column is one of pids.
func filterPS(out string, pids []int) (TopResult, error) {
	var res TopResult
	lines := strings.Split(out, "\n")
	res.Titles = strings.Fields(lines[0])
	col := slices.Index(res.Titles, "PID")
	if col < 0 {
		return res, errdefs.InvalidArgumentf("Couldn't find PID field in ps output")
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil {
			return res, fmt.Errorf("unexpected pid %q in ps output", f[col])
		}
		if !slices.Contains(pids, pid) {
			continue
		}
		if n := len(res.Titles); len(f) > n {
			f = append(f[:n-1], strings.Join(f[n-1:], " "))
		}
		res.Processes = append(res.Processes, f)
	}
	return res, nil
}
