package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/names"
	"github.com/hoistproject/hoist/internal/container/proc"
	"github.com/hoistproject/hoist/internal/container/runtime"
	"github.com/hoistproject/hoist/internal/container/volume"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/events"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/mount"
	networks "github.com/hoistproject/hoist/internal/network"
	"github.com/hoistproject/hoist/internal/reference"
)

// Options configure a Manager.
type Options struct {
	// Images resolves image references for Create. May be nil for
	// operations on existing containers.
	Images ImageResolver
	// Runtime is the OCI runtime binary ("runc" when empty).
	Runtime string
	// Self is the command that re-executes hoist (the monitor and --init
	// use it): Self[0] is the binary, the rest are leading arguments.
	// Defaults to the running executable.
	Self []string
	// SelfEnv is extra environment for Self (tests).
	SelfEnv []string
	// Logger receives debug output; nil discards.
	Logger *slog.Logger
	// Storage forces new containers' rootfs mode: StorageCopy copies the
	// layers instead of mounting an overlay. "" (default) uses overlayfs
	// and falls back to a copy where it is unavailable.
	Storage string
	// Events records what happens to containers (`hoist events`); the
	// root's event log when nil.
	Events *events.Log
}

// Manager creates, runs and tracks containers under one hoist root.
type Manager struct {
	root string
	opts Options
	log  *slog.Logger
	// overlay is the root's overlay kind (mount.ChooseOverlay), the kind
	// root filesystems are mounted with.
	overlay string
	// nets is the root's networks (addresses, bridges; package network).
	nets *networks.Store
}

// OverlayKind is the kind of overlay mount root filesystems are made with
// (mount.KernelOverlay or mount.FuseOverlay).
func (m *Manager) OverlayKind() string { return m.overlay }

// New returns a Manager for root, creating its directories.
func New(root string, opts Options) (*Manager, error) {
	if opts.Runtime == "" {
		opts.Runtime = runtime.Default()
	}
	if opts.Events == nil {
		opts.Events = events.New(root)
	}
	if len(opts.Self) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("locate hoist executable: %w", err)
		}
		opts.Self = []string{exe}
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	m := &Manager{root: root, opts: opts, log: lg,
		nets: &networks.Store{Root: root, Self: opts.Self, SelfEnv: opts.SelfEnv}}
	for _, d := range []string{m.containersDir(), m.namesDir(), m.volumesDir()} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	fsutil.MarkTopDir(m.containersDir()) // upper dirs away from deleted ones
	kind, err := mount.ChooseOverlay(root)
	if err != nil {
		return nil, err
	}
	m.overlay = kind
	return m, nil
}

// Root is the hoist root the manager works in.
func (m *Manager) Root() string { return m.root }

// event records action on c, with docker's attributes: the image, the
// name, the container's labels and extra.
func (m *Manager) event(c *Container, action string, extra map[string]string) {
	attrs := map[string]string{"image": c.Config.Image, "name": c.Name}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	m.opts.Events.Record("container", action, c.ID, attrs)
}

func (m *Manager) containersDir() string { return filepath.Join(m.root, "containers") }
func (m *Manager) namesDir() string      { return filepath.Join(m.root, "container-names") }
func (m *Manager) volumesDir() string    { return filepath.Join(m.root, "volumes") }
func (m *Manager) volumes() volume.Store { return volume.Store{Dir: m.volumesDir()} }
func (m *Manager) names() names.Store    { return names.Store{Dir: m.namesDir()} }

// runtimeRoot is the --root state dir of runtime rt.
func (m *Manager) runtimeRoot(rt string) string {
	return filepath.Join(m.root, "runtime", filepath.Base(rt))
}

// runtimeOf is c's OCI runtime: the one it was created with (runc for a
// record from before hoist recorded it, when runc was the only default).
func (m *Manager) runtimeOf(c *Container) string {
	if c.HostConfig.Runtime != "" {
		return c.HostConfig.Runtime
	}
	return "runc"
}

func newID() string {
	for {
		var b [32]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		// Docker never hands out an ID that looks like a short number.
		if strings.Trim(id[:12], "0123456789") != "" {
			return id
		}
	}
}

// writeJSON writes v to path atomically (temp file, rename), with an fsync
// first when durable.
func writeJSON(path string, v any, durable bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp" + fmt.Sprint(os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			os.Remove(tmp)
			return err
		}
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// saveConfig writes container.json atomically, with an fsync unless c is
// removed when it exits (--rm): such a container does not outlive a crash
// anyway, and a record torn by one is taken for a remnant (isRemnant).
func (c *Container) saveConfig() error {
	return writeJSON(filepath.Join(c.dir, "container.json"), c, !c.HostConfig.AutoRemove)
}

// saveState writes state.json atomically but without fsync: after a crash
// the state is reconciled against the runtime anyway, and a state lost with
// the machine describes processes that are gone.
func (c *Container) saveState() error {
	return writeJSON(filepath.Join(c.dir, "state.json"), c.State, false)
}

func (c *Container) loadState() error {
	b, err := os.ReadFile(filepath.Join(c.dir, "state.json"))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, &c.State)
}

// lock takes the container's exclusive file lock; the returned func
// releases it. A lock still held from Create (CreateOptions.Hold) is taken
// over instead. A container removed meanwhile (its record gone once the
// lock is ours) is errdefs.NotFound.
func (c *Container) lock() (func(), error) {
	f := c.held
	c.held = nil
	if f == nil {
		var err error
		if f, err = lockDir(c.dir, unix.LOCK_EX); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, errdefs.NotFoundf("No such container: %s", c.ID)
			}
			return nil, fmt.Errorf("lock container %s: %w", c.ID, err)
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "container.json")); errors.Is(err, fs.ErrNotExist) {
		f.Close()
		return nil, errdefs.NotFoundf("No such container: %s", c.ID)
	}
	return func() { f.Close() }, nil
}

// tryLock is lock without waiting: ok is false when another process holds
// the lock (the container is being created, started, changed or removed
// right now) or the container is gone.
func (c *Container) tryLock() (unlock func(), ok bool) {
	f, err := lockDir(c.dir, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return nil, false
	}
	if _, err := os.Stat(filepath.Join(c.dir, "container.json")); err != nil {
		f.Close()
		return nil, false
	}
	return func() { f.Close() }, true
}

// Release lets go of the lock Create kept (CreateOptions.Hold) when the
// container is not started after all; a no-op otherwise.
func (c *Container) Release() {
	if c.held != nil {
		c.held.Close()
		c.held = nil
	}
}

// lockState takes c's lock and re-reads its state (another process may
// have changed it); the returned func releases the lock. On error the lock
// is not held.
func (c *Container) lockState() (func(), error) {
	unlock, err := c.lock()
	if err != nil {
		return nil, err
	}
	if err := c.loadState(); err != nil {
		unlock()
		if errors.Is(err, fs.ErrNotExist) {
			// Removed meanwhile (its record goes before its directory).
			return nil, errdefs.NotFoundf("No such container: %s", c.ID)
		}
		return nil, err
	}
	return unlock, nil
}

// getLocked finds the container ref and holds its lock with its state
// re-read (lockState); the returned func releases it.
func (m *Manager) getLocked(ctx context.Context, ref string) (*Container, func(), error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := c.lockState()
	if err != nil {
		return nil, nil, err
	}
	return c, unlock, nil
}

// lockDir flocks the lock file of a container directory (how: LOCK_EX,
// optionally |LOCK_NB); closing the file releases it.
// newContainerDir makes c's directory and returns its lock, held, taken
// under a shared lock of containers/.sweep (which removeRemnants holds
// exclusively while it sweeps).
func (m *Manager) newContainerDir(c *Container) (*os.File, error) {
	sweep, err := m.sweepLock(unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer sweep.Close()
	if err := os.MkdirAll(c.dir, 0o710); err != nil {
		return nil, fmt.Errorf("create container dir: %w", err)
	}
	lk, err := lockDir(c.dir, unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", c.ID, err)
	}
	return lk, nil
}

// reserveName reserves name for id (names.Store.Reserve). A reservation
// left by a crash is taken over: one whose container has no record, or a
// record under another name, while nobody holds that container's lock (a
// create holds it from before its reservation until its record is
// written, rm and rename from before they touch the record until the old
// name is released).
func (m *Manager) reserveName(name, id string) error {
	err := m.names().Reserve(name, id)
	if !errdefs.IsConflict(err) {
		return err
	}
	owner, ok := m.names().Lookup(name)
	if !ok || owner == id || !m.reservationLeftOver(name, owner) {
		return err
	}
	m.names().Release(name, owner)
	return m.names().Reserve(name, id)
}

// reservationLeftOver reports whether the reservation of name for the
// container owner is a crash's leftover (see reserveName).
func (m *Manager) reservationLeftOver(name, owner string) bool {
	if !reference.IsFullID(owner) {
		return false
	}
	dir := filepath.Join(m.containersDir(), owner)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return true
	}
	f, err := lockDir(dir, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return false // held: being created, renamed or removed
	}
	defer f.Close()
	c, err := m.load(owner)
	if err != nil {
		return errdefs.IsNotFound(err)
	}
	return c.Name != name
}

// sweepLock takes containers/.sweep's lock (how: LOCK_SH to make a
// container directory, LOCK_EX to sweep remnants).
func (m *Manager) sweepLock(how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(m.containersDir(), ".sweep"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("container sweep lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("container sweep lock: %w", err)
	}
	return f, nil
}

func lockDir(dir string, how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// load reads the container with full id (no reconciliation).
func (m *Manager) load(id string) (*Container, error) {
	dir := filepath.Join(m.containersDir(), id)
	b, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, errdefs.NotFoundf("No such container: %s", id)
		}
		return nil, fmt.Errorf("read container %s: %w", id, err)
	}
	c := &Container{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, errdefs.DataLossf("container %s: corrupt container.json: %v", id, err)
	}
	c.dir = dir
	if err := c.loadState(); err != nil {
		// Missing or torn (crash before writeback): the runtime knows better.
		c.State = State{Status: StatusExited, ExitCode: 255, Error: "state lost: " + err.Error()}
		if os.IsNotExist(err) {
			c.State = State{Status: StatusCreated}
		}
	}
	return c, nil
}

// ids lists the IDs of all containers.
func (m *Manager) ids() ([]string, error) {
	ents, err := os.ReadDir(m.containersDir())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && reference.IsFullID(e.Name()) {
			if _, err := os.Stat(filepath.Join(m.containersDir(), e.Name(), "container.json")); err == nil {
				out = append(out, e.Name())
			}
		}
	}
	return out, nil
}

// resolveID finds a container by full ID, name or unique ID prefix, as docker
// does.
func (m *Manager) resolveID(ref string) (string, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return "", errdefs.NotFoundf("No such container: %s", ref)
	}
	if reference.IsFullID(ref) {
		if _, err := os.Stat(filepath.Join(m.containersDir(), ref, "container.json")); err == nil {
			return ref, nil
		}
	}
	if id, ok := m.names().Lookup(ref); ok {
		if _, err := os.Stat(filepath.Join(m.containersDir(), id, "container.json")); err == nil {
			return id, nil
		}
	}
	ids, err := m.ids()
	if err != nil {
		return "", err
	}
	var match []string
	for _, id := range ids {
		if strings.HasPrefix(id, ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return "", errdefs.NotFoundf("No such container: %s", ref)
	default:
		return "", errdefs.InvalidArgumentf("multiple IDs found with provided prefix: %s", ref)
	}
}

// Get returns the container named by ref (ID, name or ID prefix) with its
// state reconciled against the monitor and the runtime.
func (m *Manager) Get(ctx context.Context, ref string) (*Container, error) {
	id, err := m.resolveID(ref)
	if err != nil {
		return nil, err
	}
	c, err := m.load(id)
	if err != nil {
		return nil, err
	}
	if err := m.reconcile(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// List returns all containers, newest first, with reconciled states.
func (m *Manager) List(ctx context.Context) ([]*Container, error) {
	ids, err := m.ids()
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, id := range ids {
		c, err := m.load(id)
		if err != nil {
			if errdefs.IsNotFound(err) || errdefs.IsDataLoss(err) {
				continue // removed meanwhile, or a crash's remnant (container prune)
			}
			return nil, err
		}
		if err := m.reconcile(ctx, c); err != nil {
			if errdefs.IsNotFound(err) {
				continue // removed meanwhile
			}
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// monitorAlive reports whether the container's monitor still runs.
func (c *Container) monitorAlive() bool {
	return c.State.MonitorPid > 0 && proc.StartTime(c.State.MonitorPid) == c.State.MonitorStart
}

// reconcile fixes the state of a container whose monitor died: if the
// runtime still runs it, it stays running (unmonitored); otherwise it is
// marked exited (255, as docker does when it loses track) and its mounts are
// cleaned up.
func (m *Manager) reconcile(ctx context.Context, c *Container) error {
	if c.State.Status == StatusCreated {
		return m.reconcileCreated(ctx, c)
	}
	if !c.State.Running() && c.State.Status != StatusRemoving {
		return nil
	}
	if c.monitorAlive() {
		return nil
	}
	unlock, err := c.lockState()
	if err != nil {
		return err
	}
	defer unlock()
	if !c.State.Running() || c.monitorAlive() {
		return nil
	}
	st, err := m.ociRuntime(c).State(ctx, c.ID)
	if err == nil && (st.Status == "running" || st.Status == "paused") {
		if st.Status == "paused" {
			c.State.Status = StatusPaused
		}
		if c.State.Status == StatusRestarting {
			// The monitor died restarting it: the new process runs unmonitored.
			c.State.Status, c.State.Pid, c.State.StartedAt = st.Status, st.Pid, timeNow()
			return c.saveState()
		}
		return nil
	}
	m.cleanupAfterExit(ctx, c)
	if c.State.Status != StatusRestarting { // waiting to restart, its exit code is known
		c.State.ExitCode = 255
		c.State.Error = "container monitor exited unexpectedly"
	}
	c.State.Status = StatusExited
	c.State.Pid = 0
	c.State.MonitorPid = 0
	if c.State.FinishedAt.IsZero() {
		c.State.FinishedAt = timeNow()
	}
	return c.saveState()
}

// ImageUse is one container using an image.
type ImageUse struct {
	ID      string
	Running bool
}

// ImageUsers maps image ID -> the containers created from it, and returns
// the chain IDs of every layer containers use (for rmi and layer GC). It
// reads the records only (no reconciliation).
func (m *Manager) ImageUsers() (map[string][]ImageUse, map[string]bool, error) {
	ids, err := m.ids()
	if err != nil {
		return nil, nil, err
	}
	users := map[string][]ImageUse{}
	chains := map[string]bool{}
	for _, id := range ids {
		c, err := m.load(id)
		if err != nil {
			continue
		}
		running := c.State.Running() && (c.monitorAlive() || c.State.Pid > 0 && proc.StartTime(c.State.Pid) != 0)
		users[c.ImageID] = append(users[c.ImageID], ImageUse{ID: c.ID, Running: running})
		for _, ch := range c.ChainIDs {
			chains[ch] = true
		}
	}
	return users, chains, nil
}

// reconcileCreated repairs a container left "created" by a monitor killed
// while starting it: a runtime record or a mounted rootfs without a start in
// progress (a start holds the lock until the state says running). A process
// the runtime still runs is adopted as running (unmonitored); anything else
// is cleaned up.
func (m *Manager) reconcileCreated(ctx context.Context, c *Container) error {
	_, rtErr := os.Stat(filepath.Join(m.runtimeRoot(m.runtimeOf(c)), c.ID))
	if rtErr != nil && !rootfsMounted(c) {
		return nil
	}
	unlock, err := c.lockState()
	if err != nil {
		return err
	}
	defer unlock()
	if c.State.Status != StatusCreated {
		return nil
	}
	st, err := m.ociRuntime(c).State(ctx, c.ID)
	if err == nil && (st.Status == "running" || st.Status == "paused") {
		c.State.Status, c.State.Pid, c.State.StartedAt = st.Status, st.Pid, timeNow()
		return c.saveState()
	}
	m.cleanupAfterExit(ctx, c)
	return nil
}

// rootfsMounted reports, cheaply, whether something is mounted on c's
// rootfs (its device differs from the container directory's).
func rootfsMounted(c *Container) bool {
	var a, b unix.Stat_t
	if unix.Lstat(c.dir, &a) != nil || unix.Lstat(filepath.Join(c.dir, "rootfs"), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}
