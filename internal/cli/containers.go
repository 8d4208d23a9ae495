package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/units"
)

// containerVerbs are the verbs registered both at the top level and under
// `hoist container`, by name.
func containerVerbs() map[string]verb {
	return map[string]verb{
		"run": newRunCmd, "create": newCreateCmd, "start": newStartCmd, "stop": newStopCmd, "kill": newKillCmd,
		"restart": newRestartCmd, "pause": newPauseCmd, "unpause": newUnpauseCmd, "wait": newWaitCmd,
		"rename": newRenameCmd, "exec": newExecCmd, "attach": newAttachCmd, "ps": newPsCmd, "logs": newLogsCmd,
		"top": newTopCmd, "rm": newRmCmd, "diff": newDiffCmd, "export": newExportCmd, "cp": newCpCmd,
		"commit": newCommitCmd, "port": newPortCmd, "stats": newStatsCmd, "update": newUpdateCmd,
	}
}

// startExit converts a start failure into docker's exit status (125, 126,
// 127); other errors exit 125 ("hoist's own failure").
func startExit(err error) error {
	if err == nil {
		return nil
	}
	var se *engine.StartError
	if errors.As(err, &se) {
		return withStatus(se.Code, err)
	}
	var st *StatusError
	if errors.As(err, &st) {
		return err
	}
	return withStatus(125, err)
}

// defaultDetachKeys is docker's detach sequence.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// useDetachKeys sets the --detach-keys of an attaching command.
func (e *env) useDetachKeys(keys string) error {
	b, err := attach.ParseDetachKeys(keys)
	if err != nil {
		return err
	}
	e.detachKeys = b
	return nil
}

// requireTTY is docker's refusal of -i with -t when stdin is not a
// terminal (exit status 1).
func (e *env) requireTTY(interactive, tty bool) error {
	if interactive && tty {
		if _, ok := e.inputTTY(); !ok {
			return &shapedErr{err: errors.New("the input device is not a TTY")}
		}
	}
	return nil
}

// runFailure gives a failure of `run` docker's shape: "hoist: " first,
// the daemon's prefix on the store's and the container manager's failures
// (and on a process that could not start), the help hint, and exit status
// 125 (126 or 127 for a command that cannot run). A container's own exit
// status passes through.
func runFailure(err error) error {
	if err == nil {
		return nil
	}
	var st *StatusError
	if errors.As(err, &st) && st.Err == nil {
		return err
	}
	sh := &shapedErr{err: err, code: 125, daemon: daemonSide(err)}
	var se *engine.StartError
	if errors.As(err, &se) {
		sh.code, sh.daemon = se.Code, true
	}
	var pe *shapedErr
	if errors.As(err, &pe) { // a failure already shaped (the daemon's checks)
		sh.err, sh.daemon = pe.err, pe.daemon
	}
	var pull *engine.PullError
	if errors.As(err, &pull) { // run adds its "hoist: " to the daemon's
		sh.err, sh.daemon = pull.Err, true
	}
	sh.prog, sh.help = true, "hoist run"
	return sh
}

// createFailure gives a failure of `create` docker's shape: the daemon's
// failures as such (exit status 1), the client's own ones with "hoist: "
// and the help hint (exit status 125).
func createFailure(err error) error {
	if err == nil {
		return nil
	}
	var pe *shapedErr
	if errors.As(err, &pe) { // a failure already shaped (the daemon's checks)
		return err
	}
	var pull *engine.PullError
	if errors.As(err, &pull) {
		return &shapedErr{err: pull.Err, daemon: true}
	}
	if daemonSide(err) {
		return &shapedErr{err: err, daemon: true}
	}
	return &shapedErr{err: err, code: 125, prog: true, help: "hoist create"}
}

// eachContainer runs fn on every argument, printing the argument on success
// and errors on stderr like docker; it fails if any failed.
func eachContainer(e *env, args []string, fn func(ref string) error) error {
	failed := false
	for _, a := range args {
		if err := fn(a); err != nil {
			fmt.Fprintln(e.errOut, "Error response from daemon:", err)
			failed = true
			continue
		}
		fmt.Fprintln(e.out, a)
	}
	if failed {
		return &StatusError{Code: 1}
	}
	return nil
}

// terminalStreams builds the client's streams: with tty the local terminal
// is put in raw mode and resizes are forwarded. restore undoes raw mode.
func terminalStreams(e *env, stdin, tty bool) (s *attach.Streams, restore func()) {
	s = &attach.Streams{Stdout: e.out, Stderr: e.errOut, CloseStdin: true}
	restore = func() {}
	if stdin {
		s.Stdin = e.in
		if tty {
			s.DetachKeys = e.detachKeys
		}
	}
	if !tty {
		return s, restore
	}
	s.Stderr = nil
	f, ok := e.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return s, restore
	}
	if w, h, err := term.GetSize(int(f.Fd())); err == nil {
		s.Width, s.Height = uint16(w), uint16(h)
	}
	if stdin {
		if old, err := term.MakeRaw(int(f.Fd())); err == nil {
			restore = func() { term.Restore(int(f.Fd()), old) }
		}
	}
	resize := make(chan [2]uint16, 1)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch {
			if w, h, err := term.GetSize(int(f.Fd())); err == nil {
				select {
				case resize <- [2]uint16{uint16(h), uint16(w)}:
				default:
				}
			}
		}
	}()
	s.Resize = resize
	prev := restore
	restore = func() { signal.Stop(winch); prev() }
	return s, restore
}

// forwardedSignals are the signals a foreground client passes on (docker's
// --sig-proxy); SIGINT/SIGTERM also cancel the command's context.
func forwardedSignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGINT, syscall.SIGTERM)
	return ch, func() { signal.Stop(ch) }
}

// readLineFiles reads docker's line files (--env-file, --label-file): one
// entry per line, leading blanks dropped, empty lines and # comments
// skipped.
func readLineFiles(files []string) ([]string, error) {
	var out []string
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, errdefs.InvalidArgumentf("open %s: %v", name, err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line != "" && !strings.HasPrefix(line, "#") {
				out = append(out, line)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return out, nil
}

// parseEnv turns -e values (KEY=VALUE, or KEY taken from the host) and
// --env-file files into KEY=VALUE entries.
func parseEnv(envs, files []string) ([]string, error) {
	var out []string
	add := func(kv string) {
		if kv == "" {
			return
		}
		if !strings.Contains(kv, "=") {
			if v, ok := os.LookupEnv(kv); ok {
				out = append(out, kv+"="+v)
			}
			return
		}
		out = append(out, kv)
	}
	lines, err := readLineFiles(files)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		add(l)
	}
	for _, kv := range envs {
		if strings.HasPrefix(kv, "=") {
			return nil, errdefs.InvalidArgumentf("invalid environment variable: %s", kv)
		}
		add(kv)
	}
	return out, nil
}

// parseBytes parses a size flag (-m, --shm-size); empty means unset (0).
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return units.ParseBytes(s)
}

// parsePort parses -p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO].
func parsePort(s string) (engine.PortBinding, error) {
	var pb engine.PortBinding
	spec, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return pb, errdefs.InvalidArgumentf("invalid proto: %s", proto)
	}
	pb.Proto = proto
	parts := strings.Split(spec, ":")
	var hostIP, hostPort, ctrPort string
	switch len(parts) {
	case 1:
		ctrPort = parts[0]
	case 2:
		hostPort, ctrPort = parts[0], parts[1]
	case 3:
		hostIP, hostPort, ctrPort = parts[0], parts[1], parts[2]
	default:
		return pb, errdefs.InvalidArgumentf("invalid port format: %s", s)
	}
	cp, err := strconv.Atoi(ctrPort)
	if err != nil || cp <= 0 || cp > 65535 {
		return pb, errdefs.InvalidArgumentf("invalid containerPort: %s", ctrPort)
	}
	pb.ContainerPort, pb.HostIP = cp, hostIP
	if hostPort == "" {
		return pb, nil // allocated at create
	}
	hp, err := strconv.Atoi(hostPort)
	if err != nil || hp <= 0 || hp > 65535 {
		return pb, errdefs.InvalidArgumentf("invalid hostPort: %s", hostPort)
	}
	pb.HostPort = hp
	return pb, nil
}
