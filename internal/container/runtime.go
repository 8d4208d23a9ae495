package container

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// runtimeCmd builds an invocation of c's OCI runtime with its state root.
func (m *Manager) runtimeCmd(ctx context.Context, c *Container, args ...string) *runtimeCommand {
	rt := m.runtimeOf(c)
	full := append([]string{"--root", m.runtimeRoot(rt)}, args...)
	cmd := exec.CommandContext(ctx, rt, full...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	return &runtimeCommand{Cmd: cmd, hideCgroup2: filepath.Base(rt) == "crun" && hybridCgroup2InUse()}
}

// runtimeCommand is an invocation of the OCI runtime. Start, Run and Output
// start it, for crun on a hybrid cgroup host whose cgroup2 hierarchy has
// controllers (which crun refuses: "cgroups in hybrid mode not
// supported"), in a private mount namespace without that hierarchy, so
// that crun sees (and uses) the cgroup v1 controllers only, like runc.
// Every invocation of a container's runtime goes through here, so all of
// them see the same hierarchy.
type runtimeCommand struct {
	*exec.Cmd
	hideCgroup2 bool
}

func (c *runtimeCommand) Start() error {
	if !c.hideCgroup2 {
		return c.Cmd.Start()
	}
	return onThrowawayThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("private mount namespace for %s: %w", c.Path, err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
			return fmt.Errorf("private mount namespace for %s: %w", c.Path, err)
		}
		if err := unix.Unmount(cgroup2Hybrid, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("hiding %s from %s: %w", cgroup2Hybrid, c.Path, err)
		}
		return c.Cmd.Start() // the child inherits this thread's namespace
	})
}

// onThrowawayThread runs fn on an OS thread of its own that is discarded
// afterwards (fn may change the thread's namespaces). It is never the main
// thread: Go cannot discard that one (it would keep it, wedged, and
// /proc/self would then describe fn's namespace).
func onThrowawayThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if unix.Gettid() != unix.Getpid() {
			errc <- fn()
			return
		}
		// On the main thread: keep it while a goroutine that therefore
		// runs elsewhere does the work, then give it back untouched.
		inner := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			inner <- fn()
		}()
		err := <-inner
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

func (c *runtimeCommand) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

func (c *runtimeCommand) Output() ([]byte, error) {
	var out bytes.Buffer
	c.Stdout = &out
	err := c.Run()
	return out.Bytes(), err
}

// cgroup2Hybrid is where a hybrid cgroup host mounts its cgroup2 hierarchy.
const cgroup2Hybrid = "/sys/fs/cgroup/unified"

// hybridCgroup2InUse reports a hybrid cgroup host (v1 controllers under a
// tmpfs /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified) whose cgroup2
// hierarchy has controllers.
func hybridCgroup2InUse() bool {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) != nil || st.Type != unix.TMPFS_MAGIC {
		return false
	}
	if unix.Statfs(cgroup2Hybrid, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return false
	}
	b, err := os.ReadFile(filepath.Join(cgroup2Hybrid, "cgroup.controllers"))
	return err == nil && len(bytes.TrimSpace(b)) > 0
}

// runtimeRun runs the runtime with args and returns a classed error with its
// stderr on failure.
func (m *Manager) runtimeRun(ctx context.Context, c *Container, args ...string) error {
	cmd := m.runtimeCmd(ctx, c, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", filepath.Base(m.runtimeOf(c)), args[0], msg)
	}
	return nil
}

// runtimeState returns the runtime's status of c ("created", "running",
// "paused", "stopped"), or an error if the runtime does not know it.
func (m *Manager) runtimeState(ctx context.Context, c *Container) (string, error) {
	cmd := m.runtimeCmd(ctx, c, "state", c.ID)
	out, err := cmd.Output()
	if err != nil {
		return "", errdefs.NotFoundf("runtime has no container %s", c.ID)
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return "", err
	}
	return st.Status, nil
}

// runtimeError extracts the runtime's last error message from its JSON log
// file (--log-format json), falling back to fallback.
func runtimeError(logPath, fallback string) string {
	msg := ""
	if f, err := os.Open(logPath); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			var e struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
			}
			if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") && e.Msg != "" {
				msg = e.Msg
			}
		}
		f.Close()
	}
	if msg == "" {
		msg = strings.TrimSpace(fallback)
	}
	if msg == "" {
		msg = "unknown runtime error"
	}
	return msg
}

// StartError is a failure to start a container's process, with docker's
// exit code: 126 (cannot execute), 127 (not found) or 125.
type StartError struct {
	Code int
	Msg  string
}

func (e *StartError) Error() string { return e.Msg }

// classifyStartError maps a runtime error message to docker's exit code.
func classifyStartError(msg string) *StartError {
	code := 125
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "executable file not found"), strings.Contains(low, "no such file or directory"):
		code = 127
	case strings.Contains(low, "permission denied"), strings.Contains(low, "exec format error"), strings.Contains(low, "is a directory"), strings.Contains(low, "not a directory"):
		code = 126
	}
	return &StartError{Code: code, Msg: "failed to create task for container: OCI runtime create failed: " + msg}
}
