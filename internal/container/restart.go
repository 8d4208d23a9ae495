package container

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// RestartPolicy is docker's HostConfig.RestartPolicy: what the monitor
// does when the container's process exits (--restart).
type RestartPolicy struct {
	Name              string `json:"Name"` // no (or ""), always, unless-stopped, on-failure
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// The restart policies' names.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
	RestartOnFailure     = "on-failure"
)

// ParseRestartPolicy reads --restart's NAME[:MAX-RETRIES] as docker's
// client does (the name is checked by Validate).
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, count, ok := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	if ok {
		n, err := strconv.Atoi(count)
		if err != nil {
			return p, errdefs.InvalidArgumentf("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	return p, nil
}

// Validate checks p as docker's daemon does, with its messages.
func (p RestartPolicy) Validate() error {
	switch p.Name {
	case "", RestartNo, RestartAlways, RestartUnlessStopped:
		if p.MaximumRetryCount != 0 {
			return errdefs.InvalidArgumentf("maximum retry count cannot be used with restart policy '%s'", p.Name)
		}
	case RestartOnFailure:
		if p.MaximumRetryCount < 0 {
			return errdefs.InvalidArgumentf("maximum retry count cannot be negative")
		}
	default:
		return errdefs.InvalidArgumentf("invalid restart policy '%s'", p.Name)
	}
	return nil
}

// IsNone reports a policy that never restarts.
func (p RestartPolicy) IsNone() bool { return p.Name == "" || p.Name == RestartNo }

// shouldRestart is docker's decision after the process exited with code:
// always restarts; unless-stopped unless the user stopped it;
// on-failure after a non-zero exit while fewer than MaximumRetryCount
// restarts were made (0: no maximum). restarts is the container's
// RestartCount so far. (The monitor does not restart a container the user
// stopped at all; manuallyStopped matters to Restore.)
func (p RestartPolicy) shouldRestart(code int, manuallyStopped bool, restarts int) bool {
	switch p.Name {
	case RestartAlways:
		return true
	case RestartUnlessStopped:
		return !manuallyStopped
	case RestartOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || restarts < p.MaximumRetryCount)
	}
	return false
}

// The monitor's back-off between restarts, as docker's restart manager:
// 100 ms, doubled at each restart up to a minute, back to 100 ms after a
// run of 10 s or more.
const (
	restartDelayFirst = 100 * time.Millisecond
	restartDelayMax   = time.Minute
	restartResetAfter = 10 * time.Second
)

// backoff is the delay before the next restart.
type backoff struct{ delay time.Duration }

// next returns the delay before restarting a process that ran for ran.
func (b *backoff) next(ran time.Duration) time.Duration {
	if ran >= restartResetAfter {
		b.delay = 0
	}
	switch {
	case b.delay == 0:
		b.delay = restartDelayFirst
	case b.delay < restartDelayMax:
		b.delay *= 2
	}
	b.delay = min(b.delay, restartDelayMax)
	return b.delay
}

// manualStopFile marks a container the user stopped or killed (docker's
// HasBeenManuallyStopped): its monitor does not restart it, and restore
// does not bring an unless-stopped one back. Start removes it. It is a
// file of its own, not a field of state.json, because the monitor writes
// the state without the lock: a flag written there could be lost.
const manualStopFile = "manually-stopped"

// manuallyStopped reports whether the user stopped c since its last start.
func (c *Container) manuallyStopped() bool {
	_, err := os.Stat(filepath.Join(c.dir, manualStopFile))
	return err == nil
}

// clearManualStop forgets a user's stop (a new start by the user).
func (c *Container) clearManualStop() error {
	if err := os.Remove(filepath.Join(c.dir, manualStopFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// wakeSignal tells a monitor waiting to restart its container to look
// again at the manual-stop mark.
const wakeSignal = unix.SIGUSR1

// cancelRestarts is the first step of a user's stop, kill or rm -f: c is
// marked stopped by the user (under its lock, so that a monitor about to
// restart the process either sees the mark or has made the new process,
// which the caller then signals), and a monitor waiting to restart it is
// woken and waited for. It reloads c's state.
func (m *Manager) cancelRestarts(ctx context.Context, c *Container) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(c.dir, manualStopFile), os.O_WRONLY|os.O_CREATE, 0o600)
	if err == nil {
		err = f.Close()
	}
	unlock()
	if err != nil {
		return err
	}
	if err := c.loadState(); err != nil {
		return err
	}
	if c.State.Status != StatusRestarting {
		return nil
	}
	if c.monitorAlive() {
		if fd, err := unix.PidfdOpen(c.State.MonitorPid, 0); err == nil {
			if c.monitorAlive() { // the pidfd is of the monitor, not of a reused pid
				unix.PidfdSendSignal(fd, wakeSignal, nil, 0)
			}
			unix.Close(fd)
		}
		c.waitMonitorGone(30 * time.Second)
	}
	if err := c.loadState(); err != nil {
		return err
	}
	return m.reconcile(ctx, c)
}

// waitRestart waits d before a restart; false when the user stopped the
// container meanwhile (woken by cancelRestarts).
func (mon *monitor) waitRestart(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if mon.c.manuallyStopped() {
			return false
		}
		select {
		case <-t.C:
			return !mon.c.manuallyStopped()
		case <-mon.wake:
		}
	}
}

// restartDecision reads c's policy as it is now (update --restart may
// have changed it) and says whether, and after what delay, the process
// that ran for ran and exited with code is started again.
func (mon *monitor) restartDecision(code int, ran time.Duration) (time.Duration, bool) {
	c := mon.c
	if cur, err := mon.m.load(c.ID); err == nil {
		c.HostConfig.RestartPolicy = cur.HostConfig.RestartPolicy
	}
	// A user's stop or kill cancels the restarts of every policy.
	if c.HostConfig.AutoRemove || c.manuallyStopped() || !c.HostConfig.RestartPolicy.shouldRestart(code, false, c.State.RestartCount) {
		return 0, false
	}
	return mon.backoff.next(ran), true
}

// restart starts c's process again after its exit: under c's lock, so
// that a user's stop (cancelRestarts) either comes first and is seen here,
// or comes after and finds the new process to signal.
func (mon *monitor) restart() (int, error) {
	c := mon.c
	unlock, err := c.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	if c.manuallyStopped() {
		return 0, errRestartCancelled
	}
	mon.closeStdio()
	_ = mon.m.runtimeRun(mon.ctx, c, "delete", "--force", c.ID)
	pid, err := mon.startProcess()
	if err != nil {
		return 0, err
	}
	c.State.Status, c.State.Pid, c.State.StartedAt, c.State.Error = StatusRunning, pid, timeNow(), ""
	c.State.ExitCode, c.State.OOMKilled, c.State.Health = 0, false, nil
	if err := c.saveState(); err != nil {
		mon.m.log.Warn("save state", "container", c.ID, "err", err)
	}
	return pid, nil
}

var errRestartCancelled = errors.New("restart cancelled by the user")

// errRestarting is docker's answer to exec, top and pause of a container
// waiting to be restarted.
func errRestarting(c *Container) error {
	return errdefs.Conflictf("Container %s is restarting, wait until the container is running", c.ID)
}

// RestoreResult is what Restore did to one container.
type RestoreResult struct {
	ID, Name string
	Err      error // nil: started
}

// Restore brings back, under new monitors, the containers that their
// restart policy says should run but that no monitor holds: after a
// reboot, or after their monitors were killed (docker's daemon does this
// at its start). It is docker's rule with the container's last exit:
// always, unless-stopped unless the user stopped it, on-failure after a
// failure with retries left; only containers started before. A
// container whose process still runs unmonitored is stopped first (as
// dockerd without live-restore does), then started. The restart count
// starts again from 0, as at docker's restore.
func (m *Manager) Restore(ctx context.Context) ([]RestoreResult, error) {
	cs, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []RestoreResult
	for _, c := range cs {
		p := c.HostConfig.RestartPolicy
		if p.IsNone() || c.HostConfig.AutoRemove || c.State.StartedAt.IsZero() || c.State.Running() && c.monitorAlive() {
			continue // (a stopped one's monitor may still be finishing: start waits for it)
		}
		if c.State.Running() {
			// Unmonitored: its exit would go unseen; stop it to restart it.
			if err := m.stop(ctx, c, nil); err != nil {
				out = append(out, RestoreResult{ID: c.ID, Name: c.Name, Err: err})
				continue
			}
			if err := c.loadState(); err != nil {
				continue
			}
		} else if !p.shouldRestart(c.State.ExitCode, c.manuallyStopped(), c.State.RestartCount) {
			continue
		}
		_, err := m.start(ctx, c, StartOptions{})
		out = append(out, RestoreResult{ID: c.ID, Name: c.Name, Err: err})
	}
	return out, nil
}
