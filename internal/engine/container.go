package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/container/inspect"
	"github.com/hoistproject/hoist/internal/container/logfile"
	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// The container values the front-ends pass in and get back: the container
// manager's own types, named here so that a front-end needs no other
// package.
type (
	Container     = container.Container
	StartOptions  = container.StartOptions
	StartError    = container.StartError
	ExecOptions   = container.ExecOptions
	RemoveOptions = container.RemoveOptions
	Resources     = container.Resources
	Stats         = container.Stats
	TopResult     = container.TopResult
	LogOptions    = logfile.Options
	PortBinding   = network.PortBinding
	Change        = archive.Change
	// ContainerInspect is docker's `inspect` object of a container.
	ContainerInspect = inspect.Container

	// ContainerOptions are a container's own options (name, image,
	// config, host config), without the image's pull policy.
	ContainerOptions = container.CreateOptions
	ContainerConfig  = container.Config
	HostConfig       = container.HostConfig
	HealthConfig     = container.HealthConfig
	LogConfig        = container.LogConfig
	RestartPolicy    = container.RestartPolicy
	RestoreResult    = container.RestoreResult
	// Monitor is a container monitor started ahead of its container.
	Monitor = container.Monitor
	// Ulimit and DeviceMapping are a host config's --ulimit and --device.
	Ulimit        = spec.Ulimit
	DeviceMapping = spec.DeviceMapping
)

// ParseRestartPolicy reads --restart's NAME[:MAX-RETRIES].
func ParseRestartPolicy(s string) (RestartPolicy, error) { return container.ParseRestartPolicy(s) }

// RestoreContainers starts again, under new monitors, the containers
// that their restart policy says should run but that no monitor holds
// (after a reboot, or after their monitors were killed): `system restore`.
func (e *Engine) RestoreContainers(ctx context.Context) ([]RestoreResult, error) {
	return manager(e, func(m *container.Manager) ([]RestoreResult, error) { return m.Restore(ctx) })
}

// CheckLogConfig checks a --log-driver and its --log-opt values.
func CheckLogConfig(lc LogConfig) error { return container.CheckLogConfig(lc) }

// RunMonitor is the per-container monitor process of the container id
// (hoist re-executes itself as it): syncFile is its sync socket with the
// starting command. It opens only the container manager of o.Root.
func RunMonitor(ctx context.Context, o Options, id string, syncFile *os.File) error {
	m, err := container.New(o.Root, container.Options{Logger: o.Logger})
	if err != nil {
		return err
	}
	return m.RunMonitor(ctx, id, syncFile)
}

// MonitorVerb and ExecMonitorVerb are the hidden verbs of a container's
// monitor and of the exec monitor.
const (
	MonitorVerb     = container.MonitorVerb
	ExecMonitorVerb = container.ExecMonitorVerb
)

// RunExecMonitor is the exec monitor process of an exec with a terminal
// (hoist re-executes itself as it; package container): it returns its
// exit code, the exec'd process's.
func RunExecMonitor(args []string) int { return container.RunExecMonitor(args) }

// SpawnMonitor starts a container monitor ahead of the container it will
// hold (StartOptions.Monitor), so that it starts up while the container is
// created.
func (e *Engine) SpawnMonitor() (*Monitor, error) {
	return manager(e, func(m *container.Manager) (*Monitor, error) { return m.SpawnMonitor() })
}

// StartCreated starts c, which CreateContainer made and holds (as Start).
func (e *Engine) StartCreated(ctx context.Context, c *Container, o StartOptions) (int, error) {
	return manager(e, func(m *container.Manager) (int, error) { return m.StartCreated(ctx, c, o) })
}

// Container states and health states (docker's names).
const (
	StatusCreated    = container.StatusCreated
	StatusRestarting = container.StatusRestarting
	StatusRunning    = container.StatusRunning
	StatusRemoving   = container.StatusRemoving
	StatusPaused     = container.StatusPaused
	StatusExited     = container.StatusExited
	StatusDead       = container.StatusDead

	HealthStarting  = container.HealthStarting
	HealthHealthy   = container.HealthHealthy
	HealthUnhealthy = container.HealthUnhealthy
)

// manager runs fn with the container manager.
func manager[T any](e *Engine, fn func(*container.Manager) (T, error)) (T, error) {
	m, err := e.containers()
	if err != nil {
		var zero T
		return zero, err
	}
	return fn(m)
}

// do runs fn with the container manager.
func (e *Engine) do(fn func(*container.Manager) error) error {
	m, err := e.containers()
	if err != nil {
		return err
	}
	return fn(m)
}

// Container is the container ref names (an ID, its prefix or a name).
func (e *Engine) Container(ctx context.Context, ref string) (*Container, error) {
	return manager(e, func(m *container.Manager) (*Container, error) { return m.Get(ctx, ref) })
}

// Start starts a created or stopped container; with o.Streams it stays
// attached and returns the exit status of its process. A container
// created with AutoRemove (--rm) that fails to start is removed, as
// docker's daemon does (a client waiting for its removal is answered).
func (e *Engine) Start(ctx context.Context, ref string, o StartOptions) (int, error) {
	code, err := manager(e, func(m *container.Manager) (int, error) { return m.Start(ctx, ref, o) })
	var se *StartError
	if errors.As(err, &se) {
		if c, gerr := e.Container(ctx, ref); gerr == nil && c.HostConfig.AutoRemove && !c.State.Running() {
			e.RemoveContainer(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true, Volumes: true})
		}
	}
	return code, err
}

// Attach attaches o.Streams to a running container until it exits (its
// status) or the client detaches.
func (e *Engine) Attach(ctx context.Context, ref string, o StartOptions) (int, error) {
	return manager(e, func(m *container.Manager) (int, error) { return m.Attach(ctx, ref, o) })
}

// Stop stops a container: its stop signal, then SIGKILL after timeout
// seconds (nil: the container's own stop timeout).
func (e *Engine) Stop(ctx context.Context, ref string, timeout *int) error {
	return e.do(func(m *container.Manager) error { return m.Stop(ctx, ref, timeout) })
}

// Restart stops (as Stop) and starts a container.
func (e *Engine) Restart(ctx context.Context, ref string, timeout *int) error {
	return e.do(func(m *container.Manager) error { return m.Restart(ctx, ref, timeout) })
}

// Kill sends sig (a name or number) to a running container.
func (e *Engine) Kill(ctx context.Context, ref, sig string) error {
	return e.do(func(m *container.Manager) error { return m.Kill(ctx, ref, sig) })
}

// Pause freezes a running container.
func (e *Engine) Pause(ctx context.Context, ref string) error {
	return e.do(func(m *container.Manager) error { return m.Pause(ctx, ref) })
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ctx context.Context, ref string) error {
	return e.do(func(m *container.Manager) error { return m.Unpause(ctx, ref) })
}

// Wait blocks until a container stops and returns its exit status.
func (e *Engine) Wait(ctx context.Context, ref string) (int, error) {
	return manager(e, func(m *container.Manager) (int, error) { return m.Wait(ctx, ref) })
}

// Rename gives a container a new name.
func (e *Engine) Rename(ctx context.Context, ref, name string) error {
	return e.do(func(m *container.Manager) error { return m.Rename(ctx, ref, name) })
}

// Update changes a container's resource limits.
func (e *Engine) Update(ctx context.Context, ref string, r Resources) error {
	return e.do(func(m *container.Manager) error { return m.Update(ctx, ref, r) })
}

// RemoveContainer removes a container (rm).
func (e *Engine) RemoveContainer(ctx context.Context, ref string, o RemoveOptions) error {
	return e.do(func(m *container.Manager) error { return m.Remove(ctx, ref, o) })
}

// Exec runs a command in a running container, attached to s (nil when
// detached), and returns its exit status.
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions, s *attach.Streams) (int, error) {
	return manager(e, func(m *container.Manager) (int, error) { return m.Exec(ctx, ref, o, s) })
}

// Export writes a container's filesystem to w as a tar stream.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	return e.do(func(m *container.Manager) error { return m.Export(ctx, ref, w) })
}

// Diff is the changes of a container's filesystem to its image's.
func (e *Engine) Diff(ctx context.Context, ref string) ([]Change, error) {
	return manager(e, func(m *container.Manager) ([]Change, error) { return m.Diff(ctx, ref) })
}

// Logs writes a container's logs to stdout and stderr (as o says: tail,
// since, until, follow).
func (e *Engine) Logs(ctx context.Context, ref string, o LogOptions, stdout, stderr io.Writer) error {
	return e.do(func(m *container.Manager) error { return m.Logs(ctx, ref, o, stdout, stderr) })
}

// Top is the processes of a running container (ps's columns, psArgs its
// options).
func (e *Engine) Top(ctx context.Context, ref string, psArgs ...string) (TopResult, error) {
	return manager(e, func(m *container.Manager) (TopResult, error) { return m.Top(ctx, ref, psArgs...) })
}

// Stats samples the resource usage of the containers refs (all running
// ones when empty) over interval.
func (e *Engine) Stats(ctx context.Context, refs []string, interval time.Duration) ([]Stats, error) {
	return manager(e, func(m *container.Manager) ([]Stats, error) { return m.Stats(ctx, refs, interval) })
}

// CopyFrom writes the tar stream of path src in a container to w (the
// top entry named as, or src's own name when ""); follow follows a
// symbolic link at src.
func (e *Engine) CopyFrom(ctx context.Context, ref, src string, follow bool, as string, w io.Writer) error {
	return e.do(func(m *container.Manager) error { return m.CopyFrom(ctx, ref, src, follow, as, w) })
}

// CopyTo unpacks the tar stream r into directory dst of a container.
func (e *Engine) CopyTo(ctx context.Context, ref, dst string, r io.Reader) error {
	return e.do(func(m *container.Manager) error { return m.CopyTo(ctx, ref, dst, r) })
}

// StatPath is the file info of path p in a container.
func (e *Engine) StatPath(ctx context.Context, ref, p string) (os.FileInfo, error) {
	return manager(e, func(m *container.Manager) (os.FileInfo, error) { return m.Stat(ctx, ref, p) })
}

// InspectContainer is docker's inspect object of a container; with size,
// its SizeRw and SizeRootFs too.
func (e *Engine) InspectContainer(ctx context.Context, ref string, size bool) (ContainerInspect, error) {
	c, err := e.Container(ctx, ref)
	if err != nil {
		return ContainerInspect{}, err
	}
	atts, _ := e.ContainerNetworks(ctx, c.ID)
	in := inspect.Of(c, atts...)
	if size {
		rw, rootFs := e.ContainerSize(ctx, c)
		in.SizeRw, in.SizeRootFs = &rw, &rootFs
	}
	return in, nil
}

// WaitCondition is docker's wait with a condition, and returns the exit
// status: "not-running" (or "") returns at once for a container that does
// not run, else at its exit; "next-exit" waits, for a container that does
// not run, for the exit of its next run (started by any process);
// "removed" waits until it is removed, too. ready, when set, is called
// once the container is found and what it was is noted: the wait counts
// from then on (the Engine API answers its headers then, before the
// client starts the container).
func (e *Engine) WaitCondition(ctx context.Context, ref, cond string, ready func()) (int, error) {
	switch cond {
	case "", "not-running", "next-exit", "removed":
	default:
		return 0, errdefs.InvalidArgumentf("invalid condition: %q", cond)
	}
	c, err := e.Container(ctx, ref)
	if err != nil {
		return 0, err
	}
	if ready != nil {
		ready()
	}
	since, id, started, code := time.Now(), c.ID, c.State.StartedAt, c.State.ExitCode
	pause := 5 * time.Millisecond
	for {
		if c.State.Running() {
			n, err := e.Wait(ctx, id)
			if err != nil && !errdefs.IsNotFound(err) {
				return 0, err
			}
			if err == nil {
				code = n
			} else {
				code = e.exitCode(id, since, code)
			}
			if cond != "removed" {
				return code, nil
			}
			started = time.Time{}
		} else if cond == "" || cond == "not-running" || (cond == "next-exit" && !c.State.StartedAt.Equal(started)) {
			return c.State.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(pause):
		}
		// The state is another process's file: look often while a
		// client's start is likely under way (docker run waits before it
		// starts), then less.
		if time.Since(since) > time.Second {
			pause = min(2*pause, 250*time.Millisecond)
		}
		if c, err = e.Container(ctx, id); errdefs.IsNotFound(err) {
			// Removed (--rm: as it exited, perhaps unseen here): its
			// die event has the status.
			return e.exitCode(id, since, code), nil
		} else if err != nil {
			return 0, err
		}
	}
}

// exitCode is the status in the last die event of container id recorded
// since then; def when there is none.
func (e *Engine) exitCode(id string, since time.Time, def int) int {
	code := def
	e.events.Read(since.Add(-time.Second), time.Time{}, func(ev Event) {
		if ev.Type == "container" && ev.Action == "die" && ev.Actor.ID == id {
			if n, err := strconv.Atoi(ev.Actor.Attributes["exitCode"]); err == nil {
				code = n
			}
		}
	})
	return code
}
