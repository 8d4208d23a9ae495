package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/signals"
	"golang.org/x/sys/unix"
)

// Wait blocks until the container is not running and returns its exit code.
func (m *Manager) Wait(ctx context.Context, ref string) (int, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	for {
		if !c.State.Running() {
			return c.State.ExitCode, nil
		}
		if ac, err := attach.Dial(c.dir, nil); err == nil {
			done := make(chan struct{})
			go func() {
				select {
				case <-ctx.Done():
					ac.Close()
				case <-done:
				}
			}()
			code, ok := ac.Stream(nil)
			close(done)
			if ok {
				return code, nil
			}
		} else {
			// Unmonitored (monitor killed): poll.
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := m.reconcile(ctx, c); err != nil {
			return 0, err
		}
		if err := c.loadState(); err != nil {
			if os.IsNotExist(err) {
				return c.State.ExitCode, nil // auto-removed
			}
			return 0, err
		}
		if err := m.reconcile(ctx, c); err != nil {
			return 0, err
		}
	}
}

// waitTimeout waits up to d for c to stop; false if it still runs.
func (m *Manager) waitTimeout(ctx context.Context, c *Container, d time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := m.Wait(wctx, c.ID)
	return err == nil || errdefs.IsNotFound(err)
}

// parseSignal reads a signal by name or number (package signals); the
// error is the docker daemon's.
func parseSignal(s string) (syscall.Signal, error) {
	if sig, ok := signals.Parse(s); ok {
		return sig, nil
	}
	return 0, errdefs.InvalidArgumentf("Invalid signal: %s", s)
}

// Kill sends sig to a running container's process.
func (m *Manager) Kill(ctx context.Context, ref string, sig string) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	s, err := parseSignal(sig)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return errdefs.Conflictf("Cannot kill container: %s: Container %s is not running", ref, c.ID)
	}
	// A user's kill, whatever the signal, ends the restarts (docker's);
	// a container waiting to be restarted has no process to signal.
	restarting := c.State.Status == StatusRestarting
	if err := m.cancelRestarts(ctx, c); err != nil {
		return err
	}
	if restarting || c.State.Status == StatusRestarting {
		return nil
	}
	return m.signal(ctx, c, s)
}

func (m *Manager) signal(ctx context.Context, c *Container, s syscall.Signal) error {
	if err := m.runtimeRun(ctx, c, "kill", c.ID, strconv.Itoa(int(s))); err != nil {
		if st, serr := m.runtimeState(ctx, c); serr != nil || st == "stopped" {
			return nil // exited meanwhile
		}
		return err
	}
	m.event(c, "kill", map[string]string{"signal": strconv.Itoa(int(s))})
	if c.State.Status == StatusPaused && s == syscall.SIGKILL {
		m.runtimeRun(ctx, c, "resume", c.ID)
	}
	return nil
}

// Stop sends the stop signal (image STOPSIGNAL or SIGTERM), waits up to
// timeout, then kills. A stopped container is left alone.
func (m *Manager) Stop(ctx context.Context, ref string, timeout *int) (err error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return nil
	}
	if err := m.cancelRestarts(ctx, c); err != nil {
		return err
	}
	return m.stop(ctx, c, timeout)
}

// stop is Stop of c without the user's mark: restore stops an
// unmonitored container this way before starting it again.
func (m *Manager) stop(ctx context.Context, c *Container, timeout *int) (err error) {
	if !c.State.Running() || c.State.Status == StatusRestarting {
		return nil
	}
	defer func() {
		if err == nil {
			m.event(c, "stop", nil)
		}
	}()
	t := 10
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	sig := syscall.SIGTERM
	if c.Config.StopSignal != "" {
		if s, ok := signals.Parse(c.Config.StopSignal); ok {
			sig = s
		}
	}
	if t != 0 {
		if err := m.signal(ctx, c, sig); err != nil {
			return err
		}
		if c.State.Status == StatusPaused {
			m.runtimeRun(ctx, c, "resume", c.ID)
		}
		if t < 0 {
			_, err := m.Wait(ctx, c.ID)
			return err
		}
		if m.waitTimeout(ctx, c, time.Duration(t)*time.Second) {
			return nil
		}
	}
	if err := m.signal(ctx, c, syscall.SIGKILL); err != nil {
		return err
	}
	if !m.waitTimeout(ctx, c, 30*time.Second) {
		return fmt.Errorf("container %s did not stop after SIGKILL", c.ID)
	}
	return nil
}

// Restart stops then starts a container.
func (m *Manager) Restart(ctx context.Context, ref string, timeout *int) error {
	if err := m.Stop(ctx, ref, timeout); err != nil {
		return err
	}
	_, err := m.Start(ctx, ref, StartOptions{})
	return err
}

// Pause freezes a running container (cgroup freezer).
func (m *Manager) Pause(ctx context.Context, ref string) error {
	return m.setPaused(ctx, ref, true)
}

// Unpause thaws a paused container.
func (m *Manager) Unpause(ctx context.Context, ref string) error {
	return m.setPaused(ctx, ref, false)
}

func (m *Manager) setPaused(ctx context.Context, ref string, pause bool) error {
	c, unlock, err := m.getLocked(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	switch {
	case !pause && c.State.Status != StatusPaused: // docker asks this first
		return errdefs.Conflictf("Container %s is not paused", c.ID)
	case !c.State.Running():
		return errdefs.Conflictf("Container %s is not running", c.ID)
	case c.State.Status == StatusRestarting:
		return errRestarting(c)
	case pause && c.State.Status == StatusPaused:
		return errdefs.Conflictf("Container %s is already paused", c.ID)
	}
	verb, status, action := "pause", StatusPaused, "pause"
	if !pause {
		verb, status, action = "resume", StatusRunning, "unpause"
	}
	if err := m.runtimeRun(ctx, c, verb, c.ID); err != nil {
		return err
	}
	c.State.Status = status
	m.event(c, action, nil)
	return c.saveState()
}

// RemoveOptions control Remove.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // also remove its anonymous volumes
}

// Remove deletes a container: its upper layer, logs, state and name.
func (m *Manager) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if c.State.Running() {
		if !o.Force {
			if c.State.Status == StatusPaused {
				return errdefs.Conflictf("You cannot remove a paused container %s. Unpause and then stop the container before attempting removal or force remove", c.ID)
			}
			return errdefs.Conflictf("You cannot remove a %s container %s. Stop the container before attempting removal or force remove", c.State.Status, c.ID)
		}
		if err := m.cancelRestarts(ctx, c); err != nil {
			if errdefs.IsNotFound(err) {
				return nil // removed meanwhile
			}
			return err
		}
		if c.State.Status != StatusRestarting && c.State.Running() {
			if err := m.signal(ctx, c, syscall.SIGKILL); err != nil {
				return err
			}
		}
		if !m.waitTimeout(ctx, c, 30*time.Second) {
			return fmt.Errorf("container %s did not stop after SIGKILL", c.ID)
		}
		if _, err := os.Stat(filepath.Join(c.dir, "container.json")); os.IsNotExist(err) {
			return nil // it was --rm
		}
	}
	unlock, err := c.lockState()
	if err != nil {
		if o.Force && errdefs.IsNotFound(err) {
			return nil // removed meanwhile (--rm, or another rm)
		}
		return err
	}
	defer unlock()
	if c.State.Running() && c.monitorAlive() {
		// Started while we waited for the lock.
		return errdefs.Conflictf("You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.ID)
	}
	m.cleanupAfterExit(ctx, c)
	return m.removeFiles(c, o.Volumes)
}

// removeFiles deletes the container directory (after making sure nothing is
// mounted below it, so removal never reaches into a lower layer or a bind
// source), its name and optionally its anonymous volumes.
func (m *Manager) removeFiles(c *Container, volumes bool) error {
	if err := m.unregister(c, volumes); err != nil {
		return err
	}
	return m.removeDir(c)
}

// unregister is the visible part of removeFiles: once it returns the
// container is gone for every command (no record, no name, no anonymous
// volumes when asked); what is left is its directory (removeDir).
func (m *Manager) unregister(c *Container, volumes bool) error {
	mps, err := mount.MountPoints(c.dir)
	if err != nil {
		return err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mps)))
	for _, mp := range mps {
		if err := mount.UnmountAll(mp); err != nil {
			return fmt.Errorf("remove %s: %w", c.ID, err)
		}
	}
	if mps, _ := mount.MountPoints(c.dir); len(mps) > 0 {
		return fmt.Errorf("remove %s: still mounted: %v", c.ID, mps)
	}
	// Mark removal first so a crash leaves a recognisable remnant.
	if err := os.Remove(filepath.Join(c.dir, "container.json")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove %s: %w", c.ID, err)
	}
	m.names().Release(c.Name, c.ID)
	if err := m.nets.Release(context.Background(), c.ID); err != nil {
		m.log.Warn("release network addresses", "container", c.ID, "err", err)
	}
	m.event(c, "destroy", nil)
	if volumes && slices.ContainsFunc(c.Mounts, func(mp MountPoint) bool { return mp.Anonymous }) {
		// Not one that another container still mounts (--volumes-from).
		_, users, err := m.Volumes()
		if err != nil {
			return nil // the record is gone: the volumes stay, as unused ones
		}
		for _, mp := range c.Mounts {
			if mp.Anonymous && mp.Name != "" && len(users[mp.Name]) == 0 {
				m.volumes().Remove(mp.Name)
				m.opts.Events.Record("volume", "destroy", mp.Name, map[string]string{"driver": "local"})
			}
		}
	}
	return nil
}

// removeDir deletes what unregister left: the container's directory.
func (m *Manager) removeDir(c *Container) error {
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove %s: %w", c.dir, err)
	}
	return nil
}

// Rename gives a container a new name.
func (m *Manager) Rename(ctx context.Context, ref, newName string) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	newName = strings.TrimPrefix(newName, "/")
	if newName == c.Name {
		return errdefs.InvalidArgumentf("Renaming a container with the same name as its current name")
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := m.reserveName(newName, c.ID); err != nil {
		return err
	}
	old := c.Name
	c.Name = newName
	if err := c.saveConfig(); err != nil {
		m.names().Release(newName, c.ID)
		return err
	}
	m.names().Release(old, c.ID)
	m.event(c, "rename", map[string]string{"oldName": "/" + old})
	return nil
}

// Prune removes every stopped container that match accepts (all when nil)
// and returns their IDs and the bytes their upper dirs held.
func (m *Manager) Prune(ctx context.Context, match func(*Container) bool) ([]string, int64, error) {
	m.removeRemnants()
	cs, err := m.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	var out []string
	var reclaimed int64
	for _, c := range cs {
		if c.State.Running() || (match != nil && !match(c)) {
			continue
		}
		removed, n, err := m.pruneOne(ctx, c)
		if err != nil {
			return out, reclaimed, err
		}
		if removed {
			out = append(out, c.ID)
			reclaimed += n
		}
	}
	return out, reclaimed, nil
}

// pruneOne removes c for Prune unless another process holds its lock (it
// is being created, started or removed: run holds it from create until the
// process runs) or it was started meanwhile; removed says whether it went.
func (m *Manager) pruneOne(ctx context.Context, c *Container) (removed bool, size int64, err error) {
	unlock, ok := c.tryLock()
	if !ok {
		return false, 0, nil
	}
	defer unlock()
	if err := c.loadState(); err != nil || c.State.Running() || c.State.Status == StatusRemoving {
		return false, 0, nil
	}
	size = fsutil.DirSize(filepath.Join(c.dir, "upper"))
	m.cleanupAfterExit(ctx, c)
	if err := m.removeFiles(c, false); err != nil {
		return false, 0, err
	}
	return true, size, nil
}

// removeRemnants deletes the container directories that a crash left
// without a record (during create, or during rm after the record went) or
// with a torn one (noRecord). A create in progress holds the container's
// lock until its record is written, and rm holds it throughout, so a
// directory with no record whose lock is free belongs to nobody. It returns
// the IDs of the removed ones.
func (m *Manager) removeRemnants() []string {
	sweep, err := m.sweepLock(unix.LOCK_EX)
	if err != nil {
		return nil
	}
	defer sweep.Close()
	ents, err := os.ReadDir(m.containersDir())
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() || !reference.IsFullID(e.Name()) {
			continue
		}
		dir := filepath.Join(m.containersDir(), e.Name())
		if !noRecord(dir) {
			continue
		}
		f, err := lockDir(dir, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // being created or removed right now
		}
		if noRecord(dir) {
			mps, _ := mount.MountPoints(dir)
			sort.Sort(sort.Reverse(sort.StringSlice(mps)))
			clean := true
			for _, mp := range mps {
				if mount.UnmountAll(mp) != nil {
					clean = false
				}
			}
			if left, _ := mount.MountPoints(dir); clean && len(left) == 0 && os.RemoveAll(dir) == nil {
				out = append(out, e.Name())
			}
		}
		f.Close()
	}
	return out
}

// noRecord reports a container directory without a usable record: none
// written yet, or one torn by a crash (only an --rm container's record is
// written without fsync, and such a container is gone after a crash).
func noRecord(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if err != nil {
		return os.IsNotExist(err)
	}
	return !json.Valid(b)
}

// Usage is the containers' share of `system df`.
type Usage struct {
	Containers, Running int
	Size                int64 // bytes in the containers' upper dirs
	Reclaimable         int64 // of which in stopped containers
	Each                []ContainerUsage
}

// ContainerUsage is one container's writable layer (system df -v).
type ContainerUsage struct {
	Container *Container
	Size      int64
}

// DiskUsage measures the containers' writable layers.
func (m *Manager) DiskUsage(ctx context.Context) (Usage, error) {
	var u Usage
	cs, err := m.List(ctx)
	if err != nil {
		return u, err
	}
	for _, c := range cs {
		n := fsutil.DirSize(filepath.Join(c.dir, "upper"))
		u.Containers++
		u.Size += n
		if c.State.Running() {
			u.Running++
		} else {
			u.Reclaimable += n
		}
		u.Each = append(u.Each, ContainerUsage{Container: c, Size: n})
	}
	return u, nil
}
