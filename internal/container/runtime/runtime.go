package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Runtime is an OCI runtime binary with its state root.
type Runtime struct {
	Binary string // "runc", "crun" or a path to one
	Root   string // its --root state directory
}

// Default is the OCI runtime hoist uses when none is named (docker's
// default-runtime; HOIST_RUNTIME and run --runtime choose another): crun
// when it is installed, as it starts a container faster than runc (and
// takes the seccomp filter hoist compiles, see WriteConfig), else runc.
func Default() string {
	if _, err := exec.LookPath("crun"); err == nil {
		return "crun"
	}
	return "runc"
}

// isCrun reports whether binary is crun.
func isCrun(binary string) bool { return filepath.Base(binary) == "crun" }

// LogArgs are the global options that make the runtime write its log,
// as JSON, to the file path. crun reads a --log value with a ':' as
// TYPE:PATH, so it is given "file:PATH" (a --root may hold ':').
func (r Runtime) LogArgs(path string) []string {
	if isCrun(r.Binary) {
		path = "file:" + path
	}
	return []string{"--log", path, "--log-format", "json"}
}

// Command builds an invocation of the runtime with its state root.
func (r Runtime) Command(ctx context.Context, args ...string) *Cmd {
	full := append([]string{"--root", r.Root}, args...)
	cmd := exec.CommandContext(ctx, r.Binary, full...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	return &Cmd{Cmd: cmd, hideCgroup2: isCrun(r.Binary) && hybridCgroup2InUse()}
}

// Cmd is an invocation of the OCI runtime. Start, Run and Output
// start it, for crun on a hybrid cgroup host whose cgroup2 hierarchy has
// controllers (which crun refuses: "cgroups in hybrid mode not
// supported"), in a private mount namespace without that hierarchy, so
// that crun sees (and uses) the cgroup v1 controllers only, like runc.
// Every invocation of a container's runtime goes through here, so all of
// them see the same hierarchy.
type Cmd struct {
	*exec.Cmd
	hideCgroup2 bool
}

// Start starts the runtime (see Cmd).
func (c *Cmd) Start() error {
	if !c.hideCgroup2 {
		return c.Cmd.Start()
	}
	return onThrowawayThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("private mount namespace for %s: %w", c.Path, err)
		}
		// Only the hierarchies' tmpfs leaves its peer group, so that the
		// unmount below stays in this namespace; every other mount keeps
		// its propagation, so that a container's mount under a shared
		// bind reaches the host as it does with runc (a recursive slave
		// here would make the container's binds slaves of the host's).
		if err := unix.Mount("", cgroupRoot, "", unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("private mount namespace for %s: %w", c.Path, err)
		}
		if err := unix.Unmount(cgroup2Hybrid, unix.MNT_DETACH); err != nil {
			// In rootless hoist's user namespace the hierarchy is a
			// locked mount (it came from the host's namespace): it
			// cannot be unmounted, but an empty read-only tmpfs can
			// cover it.
			if merr := unix.Mount("tmpfs", cgroup2Hybrid, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k"); merr != nil {
				return fmt.Errorf("hiding %s from %s: %w (covering it: %v)", cgroup2Hybrid, c.Path, err, merr)
			}
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
		goruntime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if unix.Gettid() != unix.Getpid() {
			errc <- fn()
			return
		}
		// On the main thread: keep it while a goroutine that therefore
		// runs elsewhere does the work, then give it back untouched.
		inner := make(chan error, 1)
		go func() {
			goruntime.LockOSThread()
			inner <- fn()
		}()
		err := <-inner
		goruntime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// Run starts the runtime and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the runtime and returns its standard output.
func (c *Cmd) Output() ([]byte, error) {
	var out bytes.Buffer
	c.Stdout = &out
	err := c.Run()
	return out.Bytes(), err
}

// cgroupRoot is where the cgroup hierarchies are mounted; cgroup2Hybrid
// is where a hybrid cgroup host mounts its cgroup2 hierarchy.
const (
	cgroupRoot    = "/sys/fs/cgroup"
	cgroup2Hybrid = "/sys/fs/cgroup/unified"
)

// hybridCgroup2InUse reports a hybrid cgroup host (v1 controllers under a
// tmpfs /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified) whose cgroup2
// hierarchy has controllers.
func hybridCgroup2InUse() bool {
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) != nil || st.Type != unix.TMPFS_MAGIC {
		return false
	}
	if unix.Statfs(cgroup2Hybrid, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return false
	}
	b, err := os.ReadFile(filepath.Join(cgroup2Hybrid, "cgroup.controllers"))
	return err == nil && len(bytes.TrimSpace(b)) > 0
}

// Run runs the runtime with args and returns an error with its stderr
// ("runc kill: ...") on failure.
func (r Runtime) Run(ctx context.Context, args ...string) error {
	cmd := r.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", filepath.Base(r.Binary), args[0], msg)
	}
	return nil
}

// State is the runtime's view of a container ("state ID").
type State struct {
	Status string `json:"status"` // created, running, paused, stopped
	Pid    int    `json:"pid"`
}

// State returns the runtime's state of container id, a NotFound error if
// the runtime does not know it.
func (r Runtime) State(ctx context.Context, id string) (State, error) {
	var st State
	out, err := r.Command(ctx, "state", id).Output()
	if err != nil {
		return st, errdefs.NotFoundf("runtime has no container %s", id)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, err
	}
	return st, nil
}
