package runc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hoistproject/hoist/internal/container/runtime"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/rootless"
)

// Mount is a mount added to a RUN step's container (RUN --mount).
type Mount struct {
	Type        string // "bind" or "tmpfs"
	Source      string // host path for bind
	Destination string // absolute path in the container
	Options     []string
}

// Request is one RUN step's process.
type Request struct {
	Rootfs     string   // the prepared snapshot's Root
	Args       []string // argv
	Env        []string // KEY=VALUE
	User       string   // as in the image config ("" = root); resolved in Rootfs
	Cwd        string   // absolute
	Network    string   // "default", "none" or "host"
	Hostname   string
	ExtraHosts []string // host:ip lines for /etc/hosts
	Mounts     []Mount
	Resources  Resources
	// Security are the build's --security-opt values (seccomp profile,
	// no-new-privileges, systempaths, AppArmor), applied by spec.Confine.
	Security spec.SecurityOpts
	Stdout   io.Writer
	Stderr   io.Writer
}

// Resources are the cgroup limits of RUN steps (docker build -m, --cpu-*).
type Resources struct {
	Memory     int64
	MemorySwap int64 // docker's --memory-swap (-1: unlimited swap)
	// CgroupParent is docker's --cgroup-parent: the steps' cgroups go
	// under it (from the hierarchies' roots).
	CgroupParent string
	CPUShares    int64
	CPUPeriod    int64
	CPUQuota     int64
	CPUSetCPUs   string
	CPUSetMems   string
	ShmSize      int64
	Ulimits      []string
	// SecurityOpt are docker's --security-opt values, as given (the
	// builder parses them into Request.Security).
	SecurityOpt []string
}

// Runner runs RUN steps with an OCI runtime (runc or crun) in the
// foreground: one container per step, on the prepared rootfs, with only
// fds 0-2 (stdin is /dev/null), docker's default capabilities, masked paths
// and a private /dev, /proc, /sys. Network "none" gets a new network
// namespace; "default" and "host" share the host's (the build has no
// bridge). The runtime is invoked as a container's is (package
// runtime: the same config.json writer, crun's hidden cgroup2 on a hybrid
// host).
//
// Its directory (<root>/build/runc) holds each runtime's state
// (runtime/<name>, its --root) and the bundles (bundles/<id>/config.json)
// while steps run; containers of dead hoist processes are deleted by
// Cleanup, with the runtime whose state has them.
type Runner struct {
	Runtime string // runtime.Default() when empty
	Dir     string
}

func (r *Runner) runtime() string {
	if r.Runtime == "" {
		return runtime.Default()
	}
	return r.Runtime
}

// oci is the runtime binary bin with its state root under r.Dir.
func (r *Runner) oci(bin string) runtime.Runtime {
	return runtime.Runtime{Binary: bin, Root: filepath.Join(r.Dir, "runtime", filepath.Base(bin))}
}

// Run runs req in the foreground and returns its exit code (build.Runner).
func (r *Runner) Run(ctx context.Context, req Request) (int, error) {
	bin, err := exec.LookPath(r.runtime())
	if err != nil {
		return 0, errdefs.FailedPreconditionf("RUN needs an OCI runtime: %s not found in PATH", r.runtime())
	}
	rt := r.oci(bin)
	var rnd [6]byte
	rand.Read(rnd[:])
	id := fmt.Sprintf("hoist-build-%d-%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	bundle := filepath.Join(r.Dir, "bundles", id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(bundle)
	if err := os.MkdirAll(rt.Root, 0o700); err != nil {
		return 0, err
	}
	spec, cleanup, err := r.spec(req, bundle)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	if err := runtime.WriteConfig(bundle, bin, spec); err != nil {
		return 0, err
	}
	var stderr bytes.Buffer
	logPath := filepath.Join(bundle, "runtime.log")
	cmd := rt.Command(ctx, append(rt.LogArgs(logPath), "run", "--bundle", bundle, id)...)
	cmd.Stdin = nil
	cmd.Stdout = req.Stdout
	cmd.Stderr = &teeErr{w: req.Stderr, buf: &stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		_ = rt.Command(context.Background(), "kill", id, "KILL").Run()
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	_ = rt.Command(context.Background(), "delete", "-f", id).Run()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if msg := runtime.LogError(logPath); msg != "" {
		return 0, fmt.Errorf("%s: %s", r.runtime(), runtime.DockerWords(msg, req.Args[0]))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() >= 0 {
			return ee.ExitCode(), nil
		}
		return 0, fmt.Errorf("%s: %v", r.runtime(), err)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %s", r.runtime(), err, strings.TrimSpace(stderr.String()))
	}
	return 0, nil
}

type teeErr struct {
	w   interface{ Write([]byte) (int, error) }
	buf *bytes.Buffer
}

func (t *teeErr) Write(p []byte) (int, error) {
	if t.buf.Len() < 64<<10 {
		t.buf.Write(p)
	}
	if t.w != nil {
		return t.w.Write(p)
	}
	return len(p), nil
}

// Cleanup deletes the runtime containers and bundles of dead hoist
// processes (after a kill -9), each with the runtime whose state has it.
func (r *Runner) Cleanup() {
	ents, _ := os.ReadDir(filepath.Join(r.Dir, "bundles"))
	for _, e := range ents {
		parts := strings.Split(e.Name(), "-")
		if len(parts) != 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[2])
		if err != nil || fsutil.ProcessAlive(pid) {
			continue
		}
		rts, _ := os.ReadDir(filepath.Join(r.Dir, "runtime"))
		for _, name := range rts {
			bin, err := exec.LookPath(name.Name())
			if err != nil {
				continue
			}
			rt := r.oci(bin)
			if _, err := os.Stat(filepath.Join(rt.Root, e.Name())); err == nil {
				_ = rt.Command(context.Background(), "delete", "-f", e.Name()).Run()
			}
		}
		os.RemoveAll(filepath.Join(r.Dir, "bundles", e.Name()))
	}
}

// Limits are the cgroup limits of r, by docker build's flags (rootless
// hoist refuses them without a delegated cgroup hierarchy).
func (r Resources) Limits() []rootless.Limit {
	return []rootless.Limit{
		{Flag: "--memory", Set: r.Memory > 0}, {Flag: "--memory-swap", Set: r.MemorySwap != 0},
		{Flag: "--cgroup-parent", Set: r.CgroupParent != ""}, {Flag: "--cpu-shares", Set: r.CPUShares > 0},
		{Flag: "--cpu-period", Set: r.CPUPeriod > 0}, {Flag: "--cpu-quota", Set: r.CPUQuota > 0},
		{Flag: "--cpuset-cpus", Set: r.CPUSetCPUs != ""}, {Flag: "--cpuset-mems", Set: r.CPUSetMems != ""},
	}
}
