package rootless

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// HolderVerb is the hidden command the holder process runs.
const HolderVerb = "rootless-holder"

// holderMapped is the holder's second stage (after its maps are written).
const holderMapped = "mapped"

var running = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
})

// Running reports whether this process runs in a user namespace other than
// the initial one: rootless hoist, inside its namespaces.
func Running() bool { return running() }

// IDRange is a subordinate id range: Count ids from Start.
type IDRange struct {
	Start, Count uint64
}

// subIDRange returns the first range of name (or of its numeric id) in
// file (/etc/subuid or /etc/subgid); ok false when there is none.
func subIDRange(file, name string, id int) (IDRange, bool, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return IDRange{}, false, nil
	}
	if err != nil {
		return IDRange{}, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 || (parts[0] != name && parts[0] != strconv.Itoa(id)) {
			continue
		}
		start, err1 := strconv.ParseUint(parts[1], 10, 32)
		count, err2 := strconv.ParseUint(parts[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 {
			continue
		}
		return IDRange{Start: start, Count: count}, true, nil
	}
	return IDRange{}, false, sc.Err()
}

// identity is the user hoist runs for and its subordinate ranges.
type identity struct {
	name     string
	uid, gid int
	uids     IDRange
	gids     IDRange
}

// lookupIdentity reads the user's subordinate ranges; the error names
// /etc/subuid and the command that adds a range.
func lookupIdentity() (identity, error) {
	id := identity{uid: os.Getuid(), gid: os.Getgid()}
	id.name = strconv.Itoa(id.uid)
	if u, err := user.LookupId(id.name); err == nil {
		id.name = u.Username
	}
	uids, okU, err := subIDRange("/etc/subuid", id.name, id.uid)
	if err != nil {
		return id, fmt.Errorf("rootless hoist: reading /etc/subuid: %w", err)
	}
	gids, okG, err := subIDRange("/etc/subgid", id.name, id.uid)
	if err != nil {
		return id, fmt.Errorf("rootless hoist: reading /etc/subgid: %w", err)
	}
	if !okU || !okG {
		missing := "/etc/subuid"
		switch {
		case !okU && !okG:
			missing = "/etc/subuid and /etc/subgid"
		case !okG:
			missing = "/etc/subgid"
		}
		return id, fmt.Errorf("rootless hoist needs a subordinate id range for user %q in %s; "+
			"as root, add one with: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s",
			id.name, missing, id.name)
	}
	id.uids, id.gids = uids, gids
	return id, nil
}

// runtimeDir is the per-user directory of the holder's files (see doc.go),
// created if missing and refused unless it is the user's own and 0700.
func runtimeDir(uid int) (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("hoist-%d", uid))
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		dir = filepath.Join(x, "hoist")
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("rootless hoist: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", fmt.Errorf("rootless hoist: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != uid || st.Mode&0o077 != 0 {
		return "", fmt.Errorf("rootless hoist: %s must be a directory owned by uid %d with mode 0700", dir, uid)
	}
	return dir, nil
}

// Enter re-executes hoist (with args, its environment and working
// directory) in the user's holder namespaces as their root, starting the
// holder first if there is none. It returns only on failure, before
// anything is written when the user has no subordinate range.
func Enter(args []string) error {
	id, err := lookupIdentity()
	if err != nil {
		return err
	}
	tools := map[string]string{}
	for _, t := range []string{"newuidmap", "newgidmap", "nsenter"} {
		p, err := exec.LookPath(t)
		if err != nil {
			pkg := "uidmap"
			if t == "nsenter" {
				pkg = "util-linux"
			}
			return fmt.Errorf("rootless hoist needs %s (Debian package %s): %w", t, pkg, err)
		}
		tools[t] = p
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("rootless hoist: %w", err)
	}
	dir, err := runtimeDir(id.uid)
	if err != nil {
		return err
	}
	pid, err := ensureHolder(dir, exe, id, tools)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("rootless hoist: %w", err)
	}
	// The working directory is passed on by name, and entered by Resume:
	// nsenter's --wd opens it before it enters the mount namespace (the
	// directory would then be unreachable from the new root).
	argv := append([]string{"nsenter", "--target", strconv.Itoa(pid), "--user", "--mount", "--", exe}, args...)
	env := append(os.Environ(), cwdEnv+"="+wd)
	return fmt.Errorf("rootless hoist: %w", syscall.Exec(tools["nsenter"], argv, env))
}

// cwdEnv carries the working directory into the namespaces (Resume).
const cwdEnv = "HOIST_ROOTLESS_CWD"

// Resume, first thing in a process that Enter re-executed, enters the
// working directory the user had (and forgets it: the processes hoist
// starts do not inherit it).
func Resume() error {
	wd, ok := os.LookupEnv(cwdEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(cwdEnv)
	if !Running() {
		return nil
	}
	if err := os.Chdir(wd); err != nil {
		return fmt.Errorf("rootless hoist: entering the working directory: %w", err)
	}
	os.Setenv("PWD", wd)
	return nil
}

// ensureHolder returns the pid of the user's live holder, started if there
// is none (under holder.lock).
func ensureHolder(dir, exe string, id identity, tools map[string]string) (int, error) {
	lock, err := os.OpenFile(filepath.Join(dir, "holder.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("rootless hoist: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return 0, fmt.Errorf("rootless hoist: locking %s: %w", lock.Name(), err)
	}
	pidFile := filepath.Join(dir, "holder.pid")
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isHolder(pid, id.uid) {
			return pid, nil
		}
	}
	pid, err := startHolder(exe, id, tools)
	if err != nil {
		return 0, err
	}
	tmp := pidFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return 0, fmt.Errorf("rootless hoist: %w", err)
	}
	if err := os.Rename(tmp, pidFile); err != nil {
		return 0, fmt.Errorf("rootless hoist: %w", err)
	}
	return pid, nil
}

// isHolder reports whether pid is a holder process of uid's: its real uid
// (seen from here) is uid, its command is the holder's and its user
// namespace is not ours.
func isHolder(pid, uid int) bool {
	var st unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d", pid), &st) != nil || int(st.Uid) != uid {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv := strings.Split(string(cmdline), "\x00")
	if len(argv) < 3 || argv[1] != HolderVerb || argv[2] != holderMapped {
		return false
	}
	theirs, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	ours, err2 := os.Readlink("/proc/self/ns/user")
	return err1 == nil && err2 == nil && theirs != ours
}

// startHolder starts a holder in new user and mount namespaces, maps its
// ids and waits until it is ready.
func startHolder(exe string, id identity, tools map[string]string) (int, error) {
	goR, goW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		goR.Close()
		goW.Close()
		return 0, err
	}
	defer goW.Close()
	defer readyR.Close()
	cmd := exec.Command(exe, HolderVerb)
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{goR, readyW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		Setsid:     true,
	}
	err = cmd.Start()
	goR.Close()
	readyW.Close()
	if err != nil {
		return 0, fmt.Errorf("rootless hoist: starting the user namespace: %w", err)
	}
	fail := func(err error) (int, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	maps := []struct {
		tool    string
		outside int
		r       IDRange
	}{{"newuidmap", id.uid, id.uids}, {"newgidmap", id.gid, id.gids}}
	for _, m := range maps {
		out, err := exec.Command(tools[m.tool], pid, "0", strconv.Itoa(m.outside), "1",
			"1", strconv.FormatUint(m.r.Start, 10), strconv.FormatUint(m.r.Count, 10)).CombinedOutput()
		if err != nil {
			return fail(fmt.Errorf("rootless hoist: %s: %s", m.tool, strings.TrimSpace(string(out))+" ("+err.Error()+")"))
		}
	}
	if _, err := goW.Write([]byte{1}); err != nil {
		return fail(fmt.Errorf("rootless hoist: starting the user namespace: %w", err))
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(readyR)
	if msg := strings.TrimSpace(buf.String()); msg != "ok" {
		if msg == "" {
			msg = "the holder process exited"
		}
		return fail(fmt.Errorf("rootless hoist: setting up the user namespace: %s", msg))
	}
	n := cmd.Process.Pid
	if err := cmd.Process.Release(); err != nil {
		return 0, err
	}
	return n, nil
}

// Hold runs the holder process (args after HolderVerb) and returns its exit
// code: first stage, wait for the maps then re-execute; second stage
// (holderMapped), make the mounts a slave of the host's, report ready on
// fd 4 and sleep until SIGTERM or SIGINT.
func Hold(args []string) int {
	if len(args) == 0 {
		goAhead := os.NewFile(3, "go-ahead")
		var b [1]byte
		if n, _ := goAhead.Read(b[:]); n != 1 {
			return 1
		}
		goAhead.Close()
		exe, err := os.Executable()
		if err == nil {
			err = syscall.Exec(exe, []string{exe, HolderVerb, holderMapped}, os.Environ())
		}
		fmt.Fprintf(os.NewFile(4, "ready"), "re-executing in the user namespace: %v\n", err)
		return 1
	}
	ready := os.NewFile(4, "ready")
	if os.Getuid() != 0 {
		fmt.Fprintf(ready, "not root in the user namespace (uid %d)\n", os.Getuid())
		return 1
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		fmt.Fprintf(ready, "making / a slave mount: %v\n", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGTERM, unix.SIGINT)
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE)
	fmt.Fprintln(ready, "ok")
	ready.Close()
	<-sig
	return 0
}

// DelegatedCgroup returns, for rootless hoist on a cgroup v2 host, the
// process's own cgroup when the user may create cgroups below it (it is
// writable: delegated to the user); ok false otherwise (cgroup v1 or a
// hierarchy that is not the user's).
func DelegatedCgroup() (string, bool) {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "", false
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	own, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "0::")
	if !ok || strings.Contains(own, "\n") {
		return "", false
	}
	if unix.Access(filepath.Join("/sys/fs/cgroup", own), unix.W_OK) != nil ||
		unix.Access(filepath.Join("/sys/fs/cgroup", own, "cgroup.subtree_control"), unix.W_OK) != nil {
		return "", false
	}
	return own, true
}

// Limit is a cgroup resource limit by its flag ("--memory") and whether
// it is set.
type Limit struct {
	Flag string
	Set  bool
}

// CheckLimits refuses, in rootless hoist without a delegated cgroup v2
// hierarchy, the limits that are set; nil otherwise.
func CheckLimits(all ...Limit) error {
	var limits []string
	for _, l := range all {
		if l.Set {
			limits = append(limits, l.Flag)
		}
	}
	if len(limits) == 0 || !Running() {
		return nil
	}
	if _, ok := DelegatedCgroup(); ok {
		return nil
	}
	return fmt.Errorf("rootless hoist cannot apply %s: no cgroup v2 hierarchy is delegated to this user "+
		"(the host has cgroup v1, or the user's cgroup is not writable); run without them, or as root",
		strings.Join(limits, ", "))
}
