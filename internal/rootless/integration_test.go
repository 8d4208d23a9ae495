package rootless_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rlUser is a user created for a test, and the hoist binary it runs.
type rlUser struct {
	t    *testing.T
	name string
	uid  int
	gid  int
	home string
	bin  string
	env  []string // extra environment of its hoist
}

// needTools skips unless the test can create users and map ids.
func needTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create users")
	}
	for _, tool := range []string{"useradd", "usermod", "userdel", "runuser", "newuidmap", "newgidmap", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

// hoistCopy puts the hoist binary ($HOIST_BIN, or built) where any user
// can execute it.
func hoistCopy(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hoist-rootless-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hoist")
	if src := os.Getenv("HOIST_BIN"); src != "" {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return bin
	}
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/hoist")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// newUser creates a user (with the subordinate range subRange, "" for
// none) removed at cleanup with its home, its processes (and those of its
// range: its containers) and its runtime directory.
func newUser(t *testing.T, bin, subRange string) *rlUser {
	t.Helper()
	var rnd [3]byte
	rand.Read(rnd[:])
	name := "hoistrl" + hex.EncodeToString(rnd[:])
	// No automatic range: the test decides.
	if out, err := exec.Command("useradd", "-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	r := &rlUser{t: t, name: name, uid: uid, gid: gid, home: u.HomeDir, bin: bin}
	t.Cleanup(func() { r.remove(subRange) })
	if subRange != "" {
		if out, err := exec.Command("usermod", "--add-subuids", subRange, "--add-subgids", subRange, name).CombinedOutput(); err != nil {
			t.Fatalf("usermod: %v\n%s", err, out)
		}
	}
	return r
}

// remove kills the user's processes and those running under its range,
// then deletes the user, its home and its runtime directory.
func (r *rlUser) remove(subRange string) {
	lo, hi := -1, -1
	if a, b, ok := strings.Cut(subRange, "-"); ok {
		lo, _ = strconv.Atoi(a)
		hi, _ = strconv.Atoi(b)
	}
	mine := func() []int {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			var st unix.Stat_t
			if unix.Stat("/proc/"+e.Name(), &st) != nil {
				continue
			}
			if u := int(st.Uid); u == r.uid || (u >= lo && u <= hi) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	deadline := time.Now().Add(20 * time.Second)
	for pids := mine(); len(pids) > 0 && time.Now().Before(deadline); pids = mine() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond) // polling the processes' exit
	}
	if out, err := exec.Command("userdel", "-r", "-f", r.name).CombinedOutput(); err != nil {
		r.t.Logf("userdel %s: %v\n%s", r.name, err, out)
	}
	os.RemoveAll(r.home)
	os.RemoveAll(filepath.Join(os.TempDir(), fmt.Sprintf("hoist-%d", r.uid)))
}

// hoist runs the binary as the user, in its home, and returns its output.
func (r *rlUser) hoist(args ...string) (string, error) {
	cmd := r.cmd(args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (r *rlUser) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("runuser", append([]string{"-u", r.name, "--", r.bin}, args...)...)
	cmd.Dir = r.home
	cmd.Env = append([]string{"HOME=" + r.home, "USER=" + r.name, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, r.env...)
	return cmd
}

// must runs hoist as the user and fails the test on error.
func (r *rlUser) must(args ...string) string {
	r.t.Helper()
	out, err := r.hoist(args...)
	if err != nil {
		r.t.Fatalf("hoist %s (as %s): %v\n%s", strings.Join(args, " "), r.name, err, out)
	}
	return out
}

// writeFile writes a file the user owns under its home.
func (r *rlUser) writeFile(rel string, data []byte) string {
	r.t.Helper()
	p := filepath.Join(r.home, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	for d := p; d != r.home; d = filepath.Dir(d) {
		if err := os.Lchown(d, r.uid, r.gid); err != nil {
			r.t.Fatal(err)
		}
	}
	return p
}

// usableTun makes /dev/net/tun usable by users (0666, Debian udev's mode)
// for the test, restoring its mode afterwards: slirp4netns opens it as the
// user.
func usableTun(t *testing.T) { usableDevice(t, "/dev/net/tun") }

// usableDevice makes the device dev 0666 for the test (skipping it where
// there is none), restoring its mode afterwards.
func usableDevice(t *testing.T, dev string) {
	t.Helper()
	fi, err := os.Stat(dev)
	if err != nil {
		t.Skipf("no %s: %v", dev, err)
	}
	if mode := fi.Mode().Perm(); mode&0o006 != 0o006 {
		if err := os.Chmod(dev, 0o666); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dev, mode) })
	}
}

// TestRootlessNoSubordinateRange: a user without a range gets one error
// naming /etc/subuid and the usermod command, and nothing is written.
func TestRootlessNoSubordinateRange(t *testing.T) {
	needTools(t)
	u := newUser(t, hoistCopy(t), "")
	for _, args := range [][]string{{"images"}, {"run", "--rm", "busybox", "true"}, {"info"}} {
		out, err := u.hoist(args...)
		if err == nil {
			t.Fatalf("hoist %v as a user without a range succeeded:\n%s", args, out)
		}
		for _, want := range []string{"/etc/subuid", "usermod --add-subuids", u.name} {
			if !strings.Contains(out, want) {
				t.Errorf("hoist %v: error does not name %q:\n%s", args, want, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(u.home, ".local")); err == nil {
		t.Errorf("%s/.local was written", u.home)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), fmt.Sprintf("hoist-%d", u.uid))); err == nil {
		t.Errorf("the runtime directory was written")
	}
	if out := u.must("--version"); !strings.Contains(out, "hoist version") {
		t.Errorf("--version: %s", out)
	}
}

// TestRootlessSeedFlow runs the seed command set as a created user with a
// subordinate range: import, run, run -d/exec/cp/logs/commit/rm -f, build
// with RUN steps (whiteouts and an opaque directory), save/load, volumes,
// `registry serve` with push and pull, and the refusal of -m.
func TestRootlessSeedFlow(t *testing.T) {
	needTools(t)
	usableTun(t)
	u := newUser(t, hoistCopy(t), "200000-265535")

	tarPath := filepath.Join(u.home, "bb.tar")
	if out, err := exec.Command("bash", "../../scripts/mkbusybox.sh", tarPath).CombinedOutput(); err != nil {
		t.Fatalf("mkbusybox: %v\n%s", err, out)
	}
	os.Chown(tarPath, u.uid, u.gid)

	info := u.must("info")
	wantRoot := filepath.Join(u.home, ".local", "share", "hoist")
	if !strings.Contains(info, "  rootless\n") || !strings.Contains(info, "Hoist Root Dir: "+wantRoot) {
		t.Fatalf("info does not show rootless with the root under %s:\n%s", wantRoot, info)
	}
	u.must("import", "bb.tar", "bb")
	if out := u.must("run", "--rm", "bb", "echo", "hi"); strings.TrimSpace(out) != "hi" {
		t.Fatalf("run --rm: %q", out)
	}
	// Container root is the user outside; uid 1 is the range's first.
	maps := strings.Fields(u.must("run", "--rm", "bb", "cat", "/proc/self/uid_map"))
	want := []string{"0", strconv.Itoa(u.uid), "1", "1", "200000", "65536"}
	if strings.Join(maps, " ") != strings.Join(want, " ") {
		t.Errorf("uid map in the container: %v, want %v", maps, want)
	}
	data := filepath.Join(u.home, "data")
	os.Mkdir(data, 0o755)
	os.Chown(data, u.uid, u.gid)
	u.must("run", "--rm", "-v", data+":/data", "bb", "sh", "-c", "touch /data/byroot && touch /data/by1 && chown 1:1 /data/by1")
	for name, wantUID := range map[string]int{"byroot": u.uid, "by1": 200000} {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(data, name), &st); err != nil {
			t.Fatal(err)
		}
		if int(st.Uid) != wantUID {
			t.Errorf("%s is owned by %d on the host, want %d", name, st.Uid, wantUID)
		}
	}

	// A detached container, reached by later invocations.
	u.must("run", "-d", "--name", "d1", "bb", "sh", "-c", "echo started; exec sleep 1000")
	if out := u.must("exec", "d1", "sh", "-c", "echo in-exec; id -u"); out != "in-exec\n0\n" {
		t.Errorf("exec: %q", out)
	}
	u.writeFile("in.txt", []byte("copied in\n"))
	u.must("cp", "in.txt", "d1:/tmp/in.txt")
	if out := u.must("exec", "d1", "cat", "/tmp/in.txt"); out != "copied in\n" {
		t.Errorf("exec cat after cp: %q", out)
	}
	u.must("cp", "d1:/tmp/in.txt", "out.txt")
	if b, err := os.ReadFile(filepath.Join(u.home, "out.txt")); err != nil || string(b) != "copied in\n" {
		t.Errorf("cp out: %q %v", b, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(u.must("logs", "d1"), "started") {
		if time.Now().After(deadline) {
			t.Fatalf("logs never showed the container's output")
		}
		time.Sleep(20 * time.Millisecond) // polling the log
	}
	u.must("commit", "d1", "bb:committed")
	if out := u.must("run", "--rm", "bb:committed", "cat", "/tmp/in.txt"); out != "copied in\n" {
		t.Errorf("the committed image: %q", out)
	}
	u.must("rm", "-f", "d1")
	if out := u.must("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("ps -aq after rm -f: %q", out)
	}

	// build: RUN steps, a deleted file (whiteout) and a replaced directory
	// (opaque), COPY.
	u.writeFile("ctx/Dockerfile", []byte("FROM bb\nRUN mkdir -p /root/a && touch /root/a/f\n"+
		"RUN rm /bin/ls && rm -rf /root && mkdir /root && echo built > /root/y\nCOPY in.txt /in.txt\n"))
	u.writeFile("ctx/in.txt", []byte("ctx file\n"))
	u.must("build", "-q", "-t", "bb:built", "ctx")
	check := func(ref string) {
		t.Helper()
		out := u.must("run", "--rm", ref, "sh", "-c", "ls -A /root; cat /root/y /in.txt; test -e /bin/ls || echo no-ls")
		if out != "y\nbuilt\nctx file\nno-ls\n" {
			t.Errorf("run %s: %q", ref, out)
		}
	}
	check("bb:built")
	if _, err := u.hoist("build", "-m", "64m", "-q", "ctx"); err == nil && !cgroup2() {
		t.Errorf("build -m was accepted without a delegated cgroup hierarchy")
	}
	if !cgroup2() {
		out, err := u.hoist("run", "--rm", "-m", "32m", "--cpus", "0.5", "bb", "true")
		if err == nil || !strings.Contains(out, "rootless hoist cannot apply --memory, --cpus") {
			t.Errorf("run -m --cpus: %v\n%s", err, out)
		}
	}

	// save / load.
	u.must("save", "-o", "img.tar", "bb:built")
	u.must("rmi", "bb:built")
	u.must("load", "-i", "img.tar")
	check("bb:built")

	// volumes.
	u.must("volume", "create", "v1")
	u.must("run", "--rm", "-v", "v1:/data", "bb", "sh", "-c", "echo vol > /data/x")
	if out := u.must("run", "--rm", "-v", "v1:/data", "bb", "cat", "/data/x"); out != "vol\n" {
		t.Errorf("volume content: %q", out)
	}
	if out := u.must("volume", "ls", "-q"); strings.TrimSpace(out) != "v1" {
		t.Errorf("volume ls: %q", out)
	}
	u.must("volume", "rm", "v1")

	// registry serve on an unprivileged port, push and pull.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv := u.cmd("registry", "serve", "--addr", addr)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	deadline = time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry serve never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the listener
	}
	ref := addr + "/rootless/bb:built"
	u.must("tag", "bb:built", ref)
	u.must("push", ref)
	u.must("rmi", ref, "bb:built")
	u.must("pull", ref)
	check(ref)

	// Everything the user's hoist wrote is under its own directories.
	var st unix.Stat_t
	if err := unix.Stat(wantRoot, &st); err != nil || int(st.Uid) != u.uid {
		t.Errorf("the store %s: %v, owner %d", wantRoot, err, st.Uid)
	}
}

// cgroup2 reports a unified cgroup v2 host (where limits may be
// delegated).
func cgroup2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
