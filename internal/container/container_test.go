package container

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/attach"
	"github.com/hoistproject/hoist/internal/container/logfile"
	"github.com/hoistproject/hoist/internal/container/proc"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mount"
)

var (
	rootfsOnce sync.Once
	rootfsDir  string
)

func sharedRootfs(t testing.TB) string {
	rootfsOnce.Do(func() {
		d, err := os.MkdirTemp("", "hoist-busybox-")
		if err != nil {
			t.Fatal(err)
		}
		rootfsDir = busyboxRootfs(t, d)
	})
	return rootfsDir
}

type fixedImages map[string]Image

func (f fixedImages) ResolveImage(ctx context.Context, ref string) (Image, error) {
	if img, ok := f[ref]; ok {
		return img, nil
	}
	return Image{}, errors.New("No such image: " + ref)
}

func benchImage(t testing.TB) Image { return busyboxImage(t) }

func selfCmd() []string { return []string{os.Args[0]} }

func needRuntimeB(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		b.Skip("runc not installed")
	}
}

func busyboxImage(t testing.TB) Image {
	return Image{ID: "sha256:" + strings.Repeat("b", 64), Ref: "busybox:latest", LowerDirs: []string{sharedRootfs(t)},
		Config: ocispec.Image{Config: ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=" + spec.DefaultPath}}}}
}

func needRuntime(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("container tests need root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
}

func newManager(t *testing.T, imgs ...Image) *Manager {
	needRuntime(t)
	root := t.TempDir()
	f := fixedImages{}
	for _, i := range imgs {
		f[i.Ref] = i
	}
	m, err := New(root, Options{Images: f, Self: []string{os.Args[0]}, SelfEnv: []string{"HOIST_TEST_SELF=monitor"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		cs, _ := m.List(ctx)
		for _, c := range cs {
			if err := m.Remove(ctx, c.ID, RemoveOptions{Force: true, Volumes: true}); err != nil {
				t.Errorf("cleanup remove %s: %v", c.ID, err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for monitorsOf(root) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if mps, _ := mount.MountPoints(root); len(mps) > 0 {
			t.Errorf("leaked mounts: %v", mps)
			for _, mp := range mps {
				mount.UnmountAll(mp)
			}
		}
	})
	return m
}

// runCtr creates and runs a container in the foreground, returning its
// output and exit code.
func runCtr(t *testing.T, m *Manager, o CreateOptions) (string, string, int, error) {
	t.Helper()
	if o.Image == "" {
		o.Image = "busybox:latest"
	}
	if o.HostConfig.NetworkMode == "" {
		o.HostConfig.NetworkMode = "none"
	}
	c, err := m.Create(context.Background(), o)
	if err != nil {
		return "", "", 0, err
	}
	var out, errb bytes.Buffer
	code, err := m.Start(context.Background(), c.ID, StartOptions{Streams: &attach.Streams{Stdout: &out, Stderr: &errb}})
	return out.String(), errb.String(), code, err
}

func TestRunEchoAndExitCodes(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	out, _, code, err := runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"echo", "hello world"}}})
	if err != nil || code != 0 || out != "hello world\n" {
		t.Fatalf("echo: %q %d %v", out, code, err)
	}
	out, errOut, code, err := runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}})
	if err != nil || code != 3 || out != "out\n" || errOut != "err\n" {
		t.Fatalf("exit 3: %q %q %d %v", out, errOut, code, err)
	}
	_, _, _, err = runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"nosuchcmd"}}})
	var se *StartError
	if !errors.As(err, &se) || se.Code != 127 {
		t.Fatalf("not found: %v", err)
	}
	_, _, _, err = runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"/etc/passwd"}}})
	if !errors.As(err, &se) || se.Code != 126 {
		t.Fatalf("not executable: %v", err)
	}
}

func TestEnvWorkdirUser(t *testing.T) {
	img := busyboxImage(t)
	img.Config.Config.Env = []string{"PATH=/bin:/usr/bin", "FROM_IMAGE=1", "OVERRIDE=image"}
	img.Config.Config.WorkingDir = "/srv/app"
	m := newManager(t, img)
	out, _, code, err := runCtr(t, m, CreateOptions{Config: Config{
		Env: []string{"OVERRIDE=user"}, Cmd: []string{"sh", "-c", "echo $PATH $FROM_IMAGE $OVERRIDE $HOSTNAME $HOME; pwd; id"}}})
	if err != nil || code != 0 {
		t.Fatal(code, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "/bin:/usr/bin 1 user ") || !strings.HasSuffix(lines[0], " /root") ||
		lines[1] != "/srv/app" || !strings.HasPrefix(lines[2], "uid=0(root) gid=0(root)") {
		t.Fatalf("got %q", out)
	}
	out, _, _, err = runCtr(t, m, CreateOptions{Config: Config{User: "alice", WorkingDir: "/tmp", Cmd: []string{"sh", "-c", "id; echo $HOME; pwd"}}})
	if err != nil || !strings.Contains(out, "uid=1000(alice) gid=1000(alice) groups=50(staff)") || !strings.Contains(out, "/home/alice\n/tmp\n") {
		t.Fatalf("user alice: %q %v", out, err)
	}
	out, _, _, err = runCtr(t, m, CreateOptions{Config: Config{User: "nobody:staff", Cmd: []string{"id"}}})
	if err != nil || !strings.HasPrefix(out, "uid=65534(nobody) gid=50(staff)") {
		t.Fatalf("user nobody:staff: %q %v", out, err)
	}
	_, _, _, err = runCtr(t, m, CreateOptions{Config: Config{User: "ghost", Cmd: []string{"id"}}})
	if err == nil || !strings.Contains(err.Error(), "unable to find user ghost") {
		t.Fatalf("unknown user: %v", err)
	}
	_, _, _, err = runCtr(t, m, CreateOptions{Config: Config{WorkingDir: "rel", Cmd: []string{"id"}}})
	if err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Fatalf("relative workdir: %v", err)
	}
	// --entrypoint clears the image's CMD; a command replaces CMD only.
	img.Config.Config.Entrypoint = []string{"echo", "entry"}
	img.Config.Config.Cmd = []string{"imagecmd"}
	img.Ref = "withentry:latest"
	m.opts.Images.(fixedImages)[img.Ref] = img
	out, _, _, _ = runCtr(t, m, CreateOptions{Image: img.Ref})
	if out != "entry imagecmd\n" {
		t.Fatalf("entrypoint+cmd: %q", out)
	}
	out, _, _, _ = runCtr(t, m, CreateOptions{Image: img.Ref, Config: Config{Cmd: []string{"usercmd"}}})
	if out != "entry usercmd\n" {
		t.Fatalf("entrypoint+user cmd: %q", out)
	}
	out, _, _, _ = runCtr(t, m, CreateOptions{Image: img.Ref, Config: Config{EntrypointSet: true, Entrypoint: []string{"echo"}}})
	if out != "\n" {
		t.Fatalf("--entrypoint should clear CMD: %q", out)
	}
}

func TestBindsReadOnlyAndFds(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("from host"), 0o644)
	out, _, code, err := runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"sh", "-c", "cat /data/in; echo x > /data/out; echo y > /ro/x || echo ro-ok"}},
		HostConfig: HostConfig{Binds: []string{host + ":/data", host + ":/ro:ro"}}})
	if err != nil || code != 0 || !strings.Contains(out, "from host") || !strings.Contains(out, "ro-ok") {
		t.Fatalf("binds: %q %d %v", out, code, err)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "out")); string(b) != "x\n" {
		t.Fatalf("rw bind did not write to host: %q", b)
	}
	out, _, _, err = runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"sh", "-c", "touch /x || echo rofs; touch /tmp/x || echo tmp-ro; echo ok > /dev/shm/x && cat /dev/shm/x"}},
		HostConfig: HostConfig{ReadonlyRootfs: true}})
	if err != nil || !strings.Contains(out, "rofs") || !strings.Contains(out, "ok") {
		t.Fatalf("read-only: %q %v", out, err)
	}
	out, _, _, err = runCtr(t, m, CreateOptions{Config: Config{Cmd: []string{"ls", "/proc/self/fd"}}})
	if err != nil || strings.Fields(out)[0] != "0" || len(strings.Fields(out)) != 4 {
		t.Fatalf("fds (want 0 1 2 and ls's own dir fd): %q %v", out, err)
	}
	// /etc/hosts, hostname, resolv.conf come from the container dir and
	// never reach the upper dir.
	c, err := m.Create(context.Background(), CreateOptions{Image: "busybox:latest", Config: Config{Hostname: "myhost", Cmd: []string{"sh", "-c", "hostname; cat /etc/hostname; grep -c localhost /etc/hosts"}},
		HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := m.Start(context.Background(), c.ID, StartOptions{Streams: &attach.Streams{Stdout: &b}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "myhost\nmyhost\n") {
		t.Fatalf("hostname: %q", b.String())
	}
	if ents, _ := os.ReadDir(filepath.Join(c.dir, "upper")); len(ents) != 0 {
		t.Fatalf("upper dir not empty: %v", ents)
	}
}

func TestDetachedLogsStopRemove(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Name: "web", Image: "busybox:latest",
		Config:     Config{Cmd: []string{"sh", "-c", "echo started; echo warn >&2; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"}},
		HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, CreateOptions{Name: "web", Image: "busybox:latest"}); err == nil || !strings.Contains(err.Error(), `The container name "/web" is already in use`) {
		t.Fatalf("name conflict: %v", err)
	}
	if _, err := m.Start(ctx, "web", StartOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, c.ID[:8])
	if err != nil || got.State.Status != StatusRunning || got.State.Pid == 0 {
		t.Fatalf("state: %+v %v", got.State, err)
	}
	if err := m.Remove(ctx, "web", RemoveOptions{}); err == nil || !strings.Contains(err.Error(), "cannot remove a running container") {
		t.Fatalf("rm running: %v", err)
	}
	var out, errb bytes.Buffer
	deadline := time.Now().Add(10 * time.Second)
	// stdout and stderr reach the log separately: wait for both.
	for !(strings.Contains(out.String(), "started") && strings.Contains(errb.String(), "warn")) && time.Now().Before(deadline) {
		out.Reset()
		errb.Reset()
		m.Logs(ctx, "web", logfile.Options{Tail: -1}, &out, &errb)
	}
	if out.String() != "started\n" || errb.String() != "warn\n" {
		t.Fatalf("logs: %q %q", out.String(), errb.String())
	}
	out.Reset()
	m.Logs(ctx, "web", logfile.Options{Tail: -1, Timestamps: true}, &out, nil)
	if ts, _, _ := strings.Cut(out.String(), " "); !strings.HasSuffix(out.String(), " started\n") {
		t.Fatalf("timestamps: %q", out.String())
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Fatalf("timestamp %q: %v", ts, err)
	}
	top, err := m.Top(ctx, "web")
	if err != nil || len(top.Processes) < 1 || !strings.Contains(top.Processes[0][7], "sh -c") {
		t.Fatalf("top: %+v %v", top, err)
	}
	code, err := m.Exec(ctx, "web", ExecOptions{Cmd: []string{"sh", "-c", "echo in-exec; exit 4"}}, &attach.Streams{Stdout: &out})
	if err != nil || code != 4 || !strings.Contains(out.String(), "in-exec") {
		t.Fatalf("exec: %d %v %q", code, err, out.String())
	}
	if _, err := m.Exec(ctx, "web", ExecOptions{Cmd: []string{"nosuch"}}, &attach.Streams{}); err == nil {
		t.Fatal("exec of missing command succeeded")
	}
	if err := m.Pause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, "web"); got.State.Status != StatusPaused {
		t.Fatalf("pause: %s", got.State.Status)
	}
	if err := m.Unpause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename(ctx, "web", "web2"); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(ctx, "web2", nil); err != nil {
		t.Fatal(err)
	}
	got, _ = m.Get(ctx, "web2")
	if got.State.Status != StatusExited || got.State.ExitCode != 0 {
		t.Fatalf("after stop: %+v", got.State)
	}
	out.Reset()
	m.Logs(ctx, "web2", logfile.Options{Tail: 1}, &out, io.Discard)
	if out.String() != "bye\n" {
		t.Fatalf("tail 1: %q", out.String())
	}
	if mps, _ := mount.MountPoints(got.dir); len(mps) != 0 {
		t.Fatalf("stopped container still mounted: %v", mps)
	}
	// Restart then kill: 137.
	if _, err := m.Start(ctx, "web2", StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(ctx, "web2", "KILL"); err != nil {
		t.Fatal(err)
	}
	if code, err := m.Wait(ctx, "web2"); err != nil || code != 137 {
		t.Fatalf("wait after kill: %d %v", code, err)
	}
	if err := m.Remove(ctx, "web2", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(got.dir); !os.IsNotExist(err) {
		t.Fatalf("container dir left: %v", err)
	}
	if _, err := m.Get(ctx, "web2"); err == nil || !strings.Contains(err.Error(), "No such container: web2") {
		t.Fatalf("get removed: %v", err)
	}
}

func TestMonitorKilled(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"sleep", "1000"}}, HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, c.ID, StartOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Get(ctx, c.ID)
	syscall.Kill(got.State.MonitorPid, syscall.SIGKILL)
	for proc.StartTime(got.State.MonitorPid) != 0 {
		time.Sleep(10 * time.Millisecond)
	}
	got, err = m.Get(ctx, c.ID)
	if err != nil || got.State.Status != StatusRunning {
		t.Fatalf("unmonitored container should still run: %+v %v", got.State, err)
	}
	syscall.Kill(got.State.Pid, syscall.SIGKILL)
	code, err := m.Wait(ctx, c.ID)
	if err != nil || code != 255 {
		t.Fatalf("wait unmonitored: %d %v", code, err)
	}
	got, _ = m.Get(ctx, c.ID)
	if got.State.Status != StatusExited {
		t.Fatalf("state: %+v", got.State)
	}
	if mps, _ := mount.MountPoints(got.dir); len(mps) != 0 {
		t.Fatalf("mounts left: %v", mps)
	}
	if err := m.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestManyLayersAndCgroupLimits(t *testing.T) {
	base := sharedRootfs(t)
	// Split the busybox rootfs: bin/ in the bottom layer, etc/ on top of 118
	// small layers each adding one file.
	dir := t.TempDir()
	var lowers []string
	bottom := filepath.Join(dir, "l000")
	os.MkdirAll(bottom, 0o755)
	if err := exec.Command("cp", "-a", filepath.Join(base, "bin"), filepath.Join(base, "sbin"), filepath.Join(base, "usr"), filepath.Join(base, "tmp"), filepath.Join(base, "proc"), filepath.Join(base, "sys"), filepath.Join(base, "dev"), bottom).Run(); err != nil {
		t.Fatal(err)
	}
	lowers = append(lowers, bottom)
	for i := 1; i < 119; i++ {
		l := filepath.Join(dir, fmt.Sprintf("l%03d", i))
		os.MkdirAll(filepath.Join(l, "layers"), 0o755)
		os.WriteFile(filepath.Join(l, "layers", fmt.Sprint(i)), nil, 0o644)
		lowers = append(lowers, l)
	}
	top := filepath.Join(dir, "l119")
	exec.Command("cp", "-a", filepath.Join(base, "etc"), top+"/").Run()
	os.MkdirAll(top, 0o755)
	exec.Command("cp", "-a", filepath.Join(base, "etc"), top).Run()
	lowers = append(lowers, top)
	img := Image{ID: "sha256:" + strings.Repeat("c", 64), Ref: "layers:120", LowerDirs: lowers,
		Config: ocispec.Image{Config: ocispec.ImageConfig{Cmd: []string{"sh"}}}}
	m := newManager(t, img)
	out, _, code, err := runCtr(t, m, CreateOptions{Image: "layers:120", Config: Config{Cmd: []string{"sh", "-c", "ls /layers | wc -l; cat /etc/passwd | head -1; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.max; grep NoNewPrivs /proc/self/status"}},
		HostConfig: HostConfig{Memory: 64 << 20, PidsLimit: 50, NanoCPUs: 5e8, CPUShares: 512, SecurityOpt: []string{"no-new-privileges"}}})
	if err != nil || code != 0 {
		t.Fatalf("%q %d %v", out, code, err)
	}
	if want := "118\nroot:x:0:0:root:/root:/bin/sh\n67108864\n50\n50000\n512\nNoNewPrivs:\t1\n"; out != want && !strings.Contains(out, "50000 100000") {
		t.Fatalf("got %q want %q", out, want)
	}
}

// monitorsOf reports whether a monitor of root still runs.
func monitorsOf(root string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), "container-monitor") && strings.Contains(string(b), root+"\x00") {
			return true
		}
	}
	return false
}

func TestCopyStorageFallback(t *testing.T) {
	needRuntime(t)
	// Two layers: busybox, then one that deletes /etc/group with an overlay
	// whiteout (char 0/0) and adds a file.
	top := t.TempDir()
	os.MkdirAll(filepath.Join(top, "etc"), 0o755)
	if err := syscall.Mknod(filepath.Join(top, "etc", "group"), syscall.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(top, "added"), []byte("top\n"), 0o644)
	img := Image{ID: "sha256:" + strings.Repeat("d", 64), Ref: "two:1", LowerDirs: []string{sharedRootfs(t), top},
		Config: ocispec.Image{Config: ocispec.ImageConfig{Cmd: []string{"sh"}}}}
	m := newManager(t, img)
	m.opts.Storage = StorageCopy
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Image: "two:1", Config: Config{Cmd: []string{"sh", "-c", "cat /added; ls /etc/group 2>&1; echo x >> /kept; echo lines=$(wc -l < /kept)"}}, HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{Stdout: &out}}); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.HasPrefix(s, "top\n") || !strings.Contains(s, "No such file") || !strings.HasSuffix(s, "lines=1\n") {
		t.Fatalf("copy mode: %q", s)
	}
	out.Reset()
	if _, err := m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{Stdout: &out}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "lines=2\n") { // changes persist across starts
		t.Fatalf("copy mode restart: %q", out.String())
	}
	if _, err := m.Diff(ctx, c.ID); err == nil {
		t.Fatal("diff in copy mode should be refused")
	}
	if mps, _ := mount.MountPoints(c.dir); len(mps) != 0 {
		t.Fatalf("copy mode mounted: %v", mps)
	}
}

func TestManyDetachedAtOnce(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"sh", "-c", fmt.Sprintf("echo line-%d; sleep 100", i)}}, HostConfig: HostConfig{NetworkMode: "none"}})
			if err == nil {
				_, err = m.Start(ctx, c.ID, StartOptions{})
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cs, err := m.List(ctx)
	if err != nil || len(cs) != n {
		t.Fatalf("list: %d %v", len(cs), err)
	}
	names := map[string]bool{}
	for _, c := range cs {
		if c.State.Status != StatusRunning || names[c.Name] {
			t.Fatalf("%s: %s (duplicate name %v)", c.Name, c.State.Status, names[c.Name])
		}
		names[c.Name] = true
		var out bytes.Buffer
		for i := 0; i < 100 && !strings.HasPrefix(out.String(), "line-"); i++ {
			out.Reset()
			m.Logs(ctx, c.ID, logfile.Options{Tail: -1}, &out, nil)
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.HasPrefix(out.String(), "line-") {
			t.Fatalf("logs of %s: %q", c.Name, out.String())
		}
	}
	for _, c := range cs {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			if err := m.Remove(ctx, id, RemoveOptions{Force: true}); err != nil {
				t.Error(err)
			}
		}(c.ID)
	}
	wg.Wait()
	if cs, _ := m.List(ctx); len(cs) != 0 {
		t.Fatalf("left: %d", len(cs))
	}
}

func TestMonitorKilledWhileStarting(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"true"}}, HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	// A starter that prepared the rootfs and died before starting: its end
	// closes and the monitor cleans up after it...
	conn, _, err := m.spawnMonitor(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.prepareBundle(ctx, c); err != nil {
		t.Fatal(err)
	}
	if msg, err := readSync(bufio.NewReader(conn)); err != nil || !msg.Ready {
		t.Fatalf("ready: %+v %v", msg, err)
	}
	if !rootfsMounted(c) {
		t.Fatal("rootfs not mounted after prepare")
	}
	conn.Close()
	for i := 0; i < 200 && monitorsOf(m.root); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if rootfsMounted(c) {
		t.Fatal("monitor left the rootfs mounted")
	}
	// ...and a monitor killed with SIGKILL leaves a mount that readers
	// repair.
	conn, _, err = m.spawnMonitor(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.prepareBundle(ctx, c); err != nil {
		t.Fatal(err)
	}
	readSync(bufio.NewReader(conn))
	pids := monitorPids(m.root)
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	conn.Close()
	for i := 0; i < 200 && monitorsOf(m.root); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	got, err := m.Get(ctx, c.ID)
	if err != nil || got.State.Status != StatusCreated || rootfsMounted(got) {
		t.Fatalf("after killed monitor: %+v %v mounted=%v", got.State, err, rootfsMounted(got))
	}
	// It still starts normally.
	if code, err := m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{}}); err != nil || code != 0 {
		t.Fatalf("start after: %d %v", code, err)
	}
}

func monitorPids(root string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), "container-monitor") && strings.Contains(string(b), root+"\\x00") {
			var pid int
			fmt.Sscan(e.Name(), &pid)
			out = append(out, pid)
		}
	}
	return out
}

func TestImageVolumeCopyUp(t *testing.T) {
	img := busyboxImage(t)
	img.Ref = "withvol:1"
	img.Config.Config.Volumes = map[string]struct{}{"/etc": {}}
	m := newManager(t, img)
	out, _, code, err := runCtr(t, m, CreateOptions{Image: "withvol:1", Config: Config{Cmd: []string{"sh", "-c", "head -1 /etc/passwd; echo x > /etc/new"}}})
	if err != nil || code != 0 || out != "root:x:0:0:root:/root:/bin/sh\n" {
		t.Fatalf("copy-up: %q %d %v", out, code, err)
	}
	cs, _ := m.List(context.Background())
	if len(cs) != 1 || len(cs[0].Mounts) != 1 || !cs[0].Mounts[0].Anonymous {
		t.Fatalf("anonymous volume: %+v", cs[0].Mounts)
	}
	if _, err := os.Stat(filepath.Join(cs[0].Mounts[0].Source, "new")); err != nil {
		t.Fatalf("write did not reach the volume: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(cs[0].dir, "upper")); len(ents) != 0 {
		t.Fatalf("volume write reached the upper dir: %v", ents)
	}
}

func TestOOMKilled(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"sh", "-c", `x=$(head -c 64000000 /dev/zero | tr "\0" a); echo survived`}},
		HostConfig: HostConfig{NetworkMode: "none", Memory: 8 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	code, err := m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := m.Get(ctx, c.ID)
	if proc.MemoryCgroup(os.Getpid()) == "" {
		t.Skip("no memory cgroup to watch")
	}
	if !got.State.OOMKilled || (code != 137 && code != 0) {
		t.Fatalf("want OOM kill: code %d state %+v", code, got.State)
	}
}

// TestStartFailsBeforeMonitorReady: a start that fails while the bundle is
// prepared (here a bind source removed after create) reports docker's 125
// and leaves no mount and no monitor behind.
func TestStartFailsBeforeMonitorReady(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	os.Mkdir(src, 0o755)
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"true"}},
		HostConfig: HostConfig{NetworkMode: "none", Binds: []string{src + ":/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(src)
	_, err = m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{}})
	var se *StartError
	if !errors.As(err, &se) || se.Code != 125 || !strings.Contains(err.Error(), "bind source path does not exist: "+src) {
		t.Fatalf("start with a missing bind source: %v", err)
	}
	if monitorsOf(m.root) {
		t.Error("a monitor outlived the failed start")
	}
	got, err := m.Get(ctx, c.ID)
	if err != nil || got.State.Status != StatusCreated || rootfsMounted(got) {
		t.Fatalf("after the failed start: %+v %v mounted=%v", got.State, err, rootfsMounted(got))
	}
}

// TestMonitorSpawnedAhead: a monitor started before its container is
// created (run) serves the start it is given to; one not used exits when
// closed; a start given a used one starts its own.
func TestMonitorSpawnedAhead(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	mon, err := m.SpawnMonitor()
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"echo", "ahead"}}, HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code, err := m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{Stdout: &out}, Monitor: mon}); err != nil || code != 0 || out.String() != "ahead\n" {
		t.Fatalf("start with a monitor spawned ahead: %d %v %q", code, err, out.String())
	}
	out.Reset()
	if code, err := m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{Stdout: &out}, Monitor: mon}); err != nil || code != 0 || out.String() != "ahead\n" {
		t.Fatalf("start given a used monitor: %d %v %q", code, err, out.String())
	}
	unused, err := m.SpawnMonitor()
	if err != nil {
		t.Fatal(err)
	}
	unused.Close()
	for i := 0; i < 500 && monitorsOf(m.root); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if monitorsOf(m.root) {
		t.Fatal("an unused monitor did not exit")
	}
}

// TestStarterKilledWithNetworkUp: a starter that brought up the bridge
// network (slirp4netns) and died before Start leaves nothing running: the
// monitor finds its pid in the state and stops it.
func TestStarterKilledWithNetworkUp(t *testing.T) {
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("slirp4netns not installed")
	}
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"true"}}, HostConfig: HostConfig{NetworkMode: "bridge"}})
	if err != nil {
		t.Fatal(err)
	}
	conn, exited, err := m.spawnMonitor(c)
	if err != nil {
		t.Fatal(err)
	}
	netw, err := m.prepareStart(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	pid := netw.Pid()
	if pid <= 0 || proc.StartTime(pid) == 0 {
		t.Fatalf("slirp4netns not running: pid %d", pid)
	}
	netw.Release() // as if this starter died: nobody stops it here
	conn.Close()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("monitor did not exit")
	}
	for i := 0; i < 200 && proc.StartTime(pid) != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if proc.StartTime(pid) != 0 {
		t.Errorf("slirp4netns %d still runs", pid)
	}
	if mps, _ := mount.MountPoints(c.dir); len(mps) != 0 {
		t.Errorf("mounts left: %v", mps)
	}
}

// TestStartWaitsForPreviousMonitor: a start does not begin while the last
// run's monitor still tears down (its network and runtime record share the
// container's paths and ID).
func TestStartWaitsForPreviousMonitor(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"true"}}, HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in for a monitor still finishing: the state names it.
	old := exec.Command("sleep", "1000")
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Process.Kill(); old.Wait() })
	c.State = State{Status: StatusExited, MonitorPid: old.Process.Pid, MonitorStart: proc.StartTime(old.Process.Pid)}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	var killed atomic.Bool
	done := make(chan error, 1)
	go func() {
		_, err := m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{}})
		if !killed.Load() {
			err = errors.New("started while the previous monitor was alive")
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("start returned before the previous monitor exited: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	killed.Store(true)
	old.Process.Kill()
	old.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A crash during create or rm leaves a container directory with no record,
// and one during an --rm container's create (its record is not fsynced) may
// leave a torn record; neither is listed, and prune removes both, but never
// a directory whose creator still holds its lock.
func TestPruneRemovesRemnants(t *testing.T) {
	m, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	remnant := filepath.Join(m.containersDir(), strings.Repeat("a", 64))
	creating := filepath.Join(m.containersDir(), strings.Repeat("b", 64))
	torn := filepath.Join(m.containersDir(), strings.Repeat("c", 64))
	for _, d := range []string{remnant, creating, torn} {
		if err := os.MkdirAll(filepath.Join(d, "upper", "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(torn, "container.json"), []byte(`{"ID":"cc`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := lockDir(creating, syscall.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if l, err := m.List(context.Background()); err != nil || len(l) != 0 {
		t.Fatalf("List with a torn record = %d containers, %v; want 0, nil", len(l), err)
	}
	if _, _, err := m.Prune(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{remnant, torn} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("remnant %s survived prune: %v", d, err)
		}
	}
	if _, err := os.Stat(creating); err != nil {
		t.Errorf("a container being created was removed: %v", err)
	}
}

// TestVanishedStateIsGone: a container whose state file went (it is being
// removed by another process: the record goes before the directory) is
// "No such container" to a locked read, and List and Prune pass it by
// instead of failing.
func TestVanishedStateIsGone(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	// A created container whose runtime record exists is reconciled under
	// its lock, which reads the state.
	os.MkdirAll(filepath.Join(m.runtimeRoot(m.runtimeOf(c)), c.ID), 0o700)
	if err := os.Remove(filepath.Join(c.dir, "state.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.lockState(); !errdefs.IsNotFound(err) {
		t.Fatalf("lockState without a state file: %v, want not found", err)
	}
	if _, err := m.List(ctx); err != nil {
		t.Fatalf("List: %v", err)
	}
	if _, _, err := m.Prune(ctx, nil); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	os.RemoveAll(filepath.Join(m.runtimeRoot(m.runtimeOf(c)), c.ID))
	m.removeFiles(c, true)
}

// TestNameLeftByCrashIsFree: a name whose container went without
// releasing it (a kill between the removal of the record and of the name,
// or of a rename's old name) is free again; a name whose container exists,
// or whose container is being created (its lock held), is not.
func TestNameLeftByCrashIsFree(t *testing.T) {
	m := newManager(t, busyboxImage(t))
	ctx := context.Background()
	create := func(name string) (*Container, error) {
		return m.Create(ctx, CreateOptions{Name: name, Image: "busybox:latest", HostConfig: HostConfig{NetworkMode: "none"}})
	}
	a, err := create("web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create("web"); !errdefs.IsConflict(err) {
		t.Fatalf("a name in use: %v", err)
	}
	// Killed after the record went, before the name did.
	if err := os.Remove(filepath.Join(a.dir, "container.json")); err != nil {
		t.Fatal(err)
	}
	held, err := lockDir(a.dir, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create("web"); !errdefs.IsConflict(err) {
		t.Fatalf("a name whose container's lock is held: %v", err)
	}
	held.Close()
	b, err := create("web")
	if err != nil {
		t.Fatalf("a name left by a crash: %v", err)
	}
	os.RemoveAll(a.dir)
	// A rename killed between saving the new name and releasing the old.
	b.Name = "renamed"
	if err := b.saveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := m.names().Reserve("renamed", b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := create("web"); err != nil {
		t.Fatalf("a rename's old name: %v", err)
	}
	if _, err := create("renamed"); !errdefs.IsConflict(err) {
		t.Fatalf("the renamed container's name: %v", err)
	}
}
