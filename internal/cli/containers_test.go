package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/events"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/testutil"
)

// TestMain lets the test binary serve as hoist's re-executed monitor.
func TestMain(m *testing.M) {
	if len(os.Args) >= 4 && (os.Args[3] == "container-monitor" || os.Args[3] == engine.ExecMonitorVerb) {
		os.Exit(Execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	keepHostNetwork()
	code := m.Run()
	if testRootfs != "" {
		os.RemoveAll(testRootfs)
	}
	os.Exit(code)
}

var (
	testRootfsOnce sync.Once
	testRootfs     string
)

// busyboxLower builds (once) a busybox rootfs dir used as the only layer.
func busyboxLower(t *testing.T) string {
	testRootfsOnce.Do(func() {
		if _, err := os.Stat("/bin/busybox"); err != nil {
			return
		}
		d, err := os.MkdirTemp("", "hoist-cli-busybox-")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "root"} {
			os.MkdirAll(filepath.Join(d, s), 0o755)
		}
		os.Chmod(filepath.Join(d, "tmp"), 0o1777)
		b, _ := os.ReadFile("/bin/busybox")
		os.WriteFile(filepath.Join(d, "bin/busybox"), b, 0o755)
		out, _ := exec.Command("/bin/busybox", "--list-full").Output()
		for _, app := range strings.Fields(string(out)) {
			if app != "bin/busybox" {
				os.MkdirAll(filepath.Join(d, filepath.Dir(app)), 0o755)
				os.Symlink("/bin/busybox", filepath.Join(d, app))
			}
		}
		os.WriteFile(filepath.Join(d, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644)
		os.WriteFile(filepath.Join(d, "etc/group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
		testRootfs = d
	})
	if testRootfs == "" {
		t.Skip("busybox not installed (busybox-static)")
	}
	return testRootfs
}

type testImages struct{ lower string }

func (ti testImages) ResolveImage(ctx context.Context, ref string) (container.Image, error) {
	switch ref {
	case "busybox", "busybox:latest":
		return container.Image{ID: "sha256:" + strings.Repeat("a", 64), Ref: "busybox:latest", LowerDirs: []string{ti.lower},
			Config: ocispec.Image{Config: ocispec.ImageConfig{Cmd: []string{"sh"}, ExposedPorts: map[string]struct{}{"80/tcp": {}}}}}, nil
	}
	return container.Image{}, errors.New("Unable to find image '" + ref + "' locally")
}

// ctrCLI runs hoist in-process with the test image resolver.
func ctrCLI(t *testing.T, root string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{in: strings.NewReader(stdin), out: &out, errOut: &errOut, fakes: engine.Options{Images: testImages{busyboxLower(t)}}}
	code := execute(context.Background(), e, append([]string{"--root", root}, args...))
	return out.String(), errOut.String(), code
}

// needContainers skips t where containers cannot run (not root, no runc).
func needContainers(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("container tests need root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
}

func ctrRoot(t *testing.T) string {
	t.Helper()
	needContainers(t)
	root := t.TempDir()
	t.Cleanup(func() {
		out, _, _ := ctrCLI(t, root, "", "ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			ctrCLI(t, root, "", "rm", "-f", id)
		}
		if mps, _ := mount.MountPoints(root); len(mps) > 0 {
			t.Errorf("leaked mounts: %v", mps)
			for _, mp := range mps {
				mount.UnmountAll(mp)
			}
		}
		waitMonitors(t, root)
		if n := containerDirs(root); n > 0 {
			t.Errorf("orphan container dirs: %d: %s", n, orphanListing(root))
		}
	})
	return root
}

// orphanListing names the container directories under root and their
// files, for the message of a leak.
func orphanListing(root string) string {
	var b strings.Builder
	ents, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(root, "containers", e.Name()))
		names := make([]string, 0, len(files))
		for _, f := range files {
			names = append(names, f.Name())
		}
		fmt.Fprintf(&b, "%s [%s] ", e.Name(), strings.Join(names, " "))
	}
	return b.String()
}

// containerDirs counts the container directories under root.
func containerDirs(root string) int {
	ents, _ := os.ReadDir(filepath.Join(root, "containers"))
	n := 0
	for _, e := range ents {
		if e.IsDir() {
			n++
		}
	}
	return n
}

func TestCLIRunExitCodes(t *testing.T) {
	root := ctrRoot(t)
	out, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--network", "none", "busybox", "echo", "hi")
	if code != 0 || out != "hi\n" {
		t.Fatalf("run echo: %d %q %q", code, out, errOut)
	}
	_, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 3")
	if code != 3 {
		t.Fatalf("exit 3: %d", code)
	}
	_, errOut, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "busybox", "nosuchcmd")
	if code != 127 || !strings.HasPrefix(errOut, "hoist: Error response from daemon: OCI runtime create failed: ") ||
		!strings.Contains(errOut, "executable file not found") || !strings.HasSuffix(errOut, ": unknown\n\nRun 'hoist run --help' for more information\n") {
		t.Fatalf("127: %d %q", code, errOut)
	}
	_, errOut, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "busybox", "/etc/passwd")
	if code != 126 {
		t.Fatalf("126: %d %q", code, errOut)
	}
	_, errOut, code = ctrCLI(t, root, "", "run", "--rm", "nosuchimage")
	if code != 125 || !strings.Contains(errOut, "Unable to find image 'nosuchimage'") {
		t.Fatalf("125: %d %q", code, errOut)
	}
	_, errOut, code = ctrCLI(t, root, "", "run", "--rm", "--runtime", "/nonexistent/runc", "busybox", "true")
	if code != 125 || !strings.Contains(errOut, "unknown or invalid runtime name: /nonexistent/runc") {
		t.Fatalf("missing runtime: %d %q", code, errOut)
	}
	_, errOut, code = ctrCLI(t, root, "", "run", "--bogus", "busybox")
	if code != 125 {
		t.Fatalf("bad flag: %d %q", code, errOut)
	}
	out, _, code = ctrCLI(t, root, "cat me\n", "run", "-i", "--rm", "--network", "none", "busybox", "cat")
	if code != 0 || out != "cat me\n" {
		t.Fatalf("stdin: %d %q", code, out)
	}
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "-t", "--network", "none", "busybox", "sh", "-c", "tty; echo $TERM")
	if code != 0 || !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "xterm") {
		t.Fatalf("tty: %d %q", code, out)
	}
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "-e", "A=1", "-w", "/work", "-u", "nobody", "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "echo $A; pwd; id -u; ulimit -n")
	if code != 0 || out != "1\n/work\n65534\n100\n" {
		t.Fatalf("env/workdir/user/ulimit: %d %q", code, out)
	}
	// Nothing is left behind by --rm.
	out, _, _ = ctrCLI(t, root, "", "ps", "-aq")
	if out != "" {
		t.Fatalf("--rm left containers: %q", out)
	}
}

func TestCLIDetachedLifecycle(t *testing.T) {
	root := ctrRoot(t)
	out, errOut, code := ctrCLI(t, root, "", "run", "-d", "--name", "web", "-l", "tier=front", "--network", "none", "busybox", "sh", "-c", "echo one; echo two; trap 'exit 0' TERM; while :; do sleep 0.1; done")
	id := strings.TrimSpace(out)
	if code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("run -d: %d %q %q", code, out, errOut)
	}
	_, errOut, code = ctrCLI(t, root, "", "run", "-d", "--name", "web", "busybox", "true")
	if code != 125 || !strings.Contains(errOut, `Conflict. The container name "/web" is already in use`) {
		t.Fatalf("name conflict: %d %q", code, errOut)
	}
	out, _, _ = ctrCLI(t, root, "", "ps")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID   IMAGE") || !strings.Contains(lines[1], id[:12]) ||
		!strings.Contains(lines[1], "Up ") || !strings.HasSuffix(lines[1], "web") {
		t.Fatalf("ps: %q", out)
	}
	// docker's COMMAND: arguments with spaces single-quoted, cut at 20
	if out, _, _ = ctrCLI(t, root, "", "ps", "--format", "{{.Command}}"); out != `"sh -c 'echo one; ec…"`+"\n" {
		t.Fatalf("ps command: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "--no-trunc", "--format", "{{.Command}}"); !strings.HasPrefix(out, `"sh -c 'echo one; echo two; trap 'exit 0' TERM;`) {
		t.Fatalf("ps --no-trunc command: %q", out)
	}
	// {{json .}}: docker's keys, sorted; sizes as docker's (a format that
	// shows them computes them, as -s does)
	out, _, _ = ctrCLI(t, root, "", "ps", "--format", "{{json .}}")
	if got, want := strings.Join(jsonKeys(t, out), " "), "Command CreatedAt ID Image Labels LocalVolumes Mounts Names Networks Platform Ports RunningFor Size State Status"; got != want {
		t.Fatalf("ps {{json .}} keys:\n got %s\nwant %s", got, want)
	}
	for _, args := range [][]string{{"inspect", "-s"}, {"container", "inspect", "--size"}} {
		out, errOut, _ := ctrCLI(t, root, "", append(args, "-f", "{{.SizeRw}} {{.SizeRootFs}}", "web")...)
		if !regexp.MustCompile(`^\d+ \d+\n$`).MatchString(out) {
			t.Fatalf("%v: SizeRw and SizeRootFs: %q %q", args, out, errOut)
		}
	}
	if out, _, _ = ctrCLI(t, root, "", "inspect", "web"); strings.Contains(out, "SizeRw") {
		t.Fatalf("inspect without -s shows sizes")
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "--format", `{{.Label "tier"}}|{{.Label "none"}}|{{.Labels}}`); out != "front||tier=front\n" {
		t.Fatalf("ps {{.Label}}: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "--format", "{{.Size}}"); !regexp.MustCompile(`^[0-9.]+[kMG]?B \(virtual [0-9.]+[kMG]?B\)\n$`).MatchString(out) {
		t.Fatalf("ps size: %q", out)
	}
	for i := 0; i < 100; i++ {
		if out, _, _ = ctrCLI(t, root, "", "logs", "web"); out == "one\ntwo\n" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out != "one\ntwo\n" {
		t.Fatalf("logs: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "logs", "--tail", "1", "web"); out != "two\n" {
		t.Fatalf("logs --tail 1: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "logs", "--since", "1h", "web"); out != "one\ntwo\n" {
		t.Fatalf("logs --since: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "logs", "--until", "2000-01-01", "web"); out != "" {
		t.Fatalf("logs --until: %q", out)
	}
	out, _, code = ctrCLI(t, root, "", "exec", "web", "sh", "-c", "echo $HOSTNAME")
	if code != 0 || out != id[:12]+"\n" {
		t.Fatalf("exec: %d %q", code, out)
	}
	if _, _, code = ctrCLI(t, root, "", "exec", "web", "sh", "-c", "exit 5"); code != 5 {
		t.Fatalf("exec exit: %d", code)
	}
	if _, errOut, code = ctrCLI(t, root, "", "exec", "web", "nosuch"); code != 127 || strings.Count(errOut, "executable file not found") != 1 {
		t.Fatalf("exec not found (the runtime's words, once): %d %q", code, errOut)
	}
	// -d: exec returns once the process runs, which goes on alone (its
	// output goes nowhere, as docker's: it holds no pipe of hoist's)
	detached := make(chan string, 1)
	go func() {
		_, errOut, code := ctrCLI(t, root, "", "exec", "-d", "web", "sh", "-c", "echo $$ >/tmp/d.pid; exec sleep 1000")
		detached <- fmt.Sprint(code, " ", errOut)
	}()
	select {
	case res := <-detached:
		if res != "0 " {
			t.Fatalf("exec -d: %s", res)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("exec -d did not return while its process runs")
	}
	testutil.WaitFor(t, "the exec -d's process", func() bool {
		out, _, _ := ctrCLI(t, root, "", "exec", "web", "sh", "-c", "kill -0 $(cat /tmp/d.pid) && echo alive")
		return out == "alive\n"
	})
	ctrCLI(t, root, "", "exec", "web", "sh", "-c", "kill $(cat /tmp/d.pid)")
	// -t: a real pty, handed over by the runtime; hoist waits for the process
	out, _, code = ctrCLI(t, root, "", "exec", "-t", "web", "sh", "-c", "tty; exit 4")
	if code != 4 || !strings.HasPrefix(out, "/dev/pts/") {
		t.Fatalf("exec -t: %d %q", code, out)
	}
	out, _, _ = ctrCLI(t, root, "", "top", "web")
	if !strings.HasPrefix(out, "UID") || !strings.Contains(out, "sh -c") {
		t.Fatalf("top: %q", out)
	}
	// docker top passes what follows the container to the host's ps
	if _, err := exec.LookPath("ps"); err == nil {
		out, _, code = ctrCLI(t, root, "", "top", "web", "-o", "pid,comm")
		if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) < 2 || strings.Fields(lines[0])[1] != "COMMAND" || !strings.Contains(out, "sh") {
			t.Fatalf("top -o pid,comm: %d %q", code, out)
		}
		if _, errOut, code := ctrCLI(t, root, "", "top", "web", "--bogus"); code != 1 || !strings.HasPrefix(errOut, "Error: ps: ") {
			t.Fatalf("top --bogus: %d %q", code, errOut)
		}
	}
	_, errOut, code = ctrCLI(t, root, "", "rm", "web")
	if code == 0 || !strings.Contains(errOut, "You cannot remove a running container") {
		t.Fatalf("rm running: %d %q", code, errOut)
	}
	if out, _, code = ctrCLI(t, root, "", "container", "inspect", "-f", "{{.State.Status}} {{.Name}} {{.GraphDriver.Name}}", "web"); out != "running /web overlay2\n" {
		t.Fatalf("inspect: %d %q", code, out)
	}
	if _, _, code = ctrCLI(t, root, "", "pause", "web"); code != 0 {
		t.Fatal("pause")
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "--format", "{{.Names}} {{.State}}"); out != "web paused\n" {
		t.Fatalf("ps paused: %q", out)
	}
	ctrCLI(t, root, "", "unpause", "web")
	if out, _, code = ctrCLI(t, root, "", "stop", "web"); code != 0 || out != "web\n" {
		t.Fatalf("stop: %d %q", code, out)
	}
	if out, _, _ = ctrCLI(t, root, "", "wait", "web"); out != "0\n" {
		t.Fatalf("wait: %q", out)
	}
	out, _, _ = ctrCLI(t, root, "", "ps", "-a", "--format", "{{.Status}}")
	if !strings.HasPrefix(out, "Exited (0) ") {
		t.Fatalf("ps -a: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "-a", "-f", "exited=0", "-q"); strings.TrimSpace(out) != id[:12] {
		t.Fatalf("filter exited=0: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "-a", "-f", "status=running", "-q"); out != "" {
		t.Fatalf("filter status=running: %q", out)
	}
	if _, _, code = ctrCLI(t, root, "", "rename", "web", "web2"); code != 0 {
		t.Fatal("rename")
	}
	if out, errOut, code := ctrCLI(t, root, "", "restart", "-t", "1", "web2"); code != 0 || out != "web2\n" {
		t.Fatalf("restart of a stopped container: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := ctrCLI(t, root, "", "restart", "-t", "1", "web2"); code != 0 || out != "web2\n" {
		t.Fatalf("restart of a running container: %d %q %q", code, out, errOut)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "--format", "{{.Names}}"); out != "web2\n" {
		t.Fatalf("ps after restart: %q", out)
	}
	ctrCLI(t, root, "", "stop", "-t", "1", "web2")
	if out, _, code = ctrCLI(t, root, "", "start", "web2"); code != 0 || out != "web2\n" {
		t.Fatalf("start: %d %q", code, out)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "--format", "{{.Names}}"); out != "web2\n" {
		t.Fatalf("ps after restart: %q", out)
	}
	if out, _, code = ctrCLI(t, root, "", "rm", "-f", "web2"); code != 0 || out != "web2\n" {
		t.Fatalf("rm -f: %d %q", code, out)
	}
	_, errOut, code = ctrCLI(t, root, "", "rm", "web2")
	if code != 1 || !strings.Contains(errOut, "No such container: web2") {
		t.Fatalf("rm missing: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "containers", id)); !os.IsNotExist(err) {
		t.Fatalf("container dir left: %v", err)
	}
}

// ctrl-p ctrl-q (or --detach-keys) detaches an attached terminal: the
// command succeeds and the container carries on.
func TestCLIDetachKeys(t *testing.T) {
	root := ctrRoot(t)
	if _, errOut, code := ctrCLI(t, root, "", "run", "-dit", "--name", "term", "--network", "none", "busybox", "sh"); code != 0 {
		t.Fatalf("run -dit: %d %q", code, errOut)
	}
	// type a command, wait for its output, then the detach keys
	inR, inW := io.Pipe()
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		e := &env{in: inR, out: out, errOut: io.Discard, fakes: engine.Options{Images: testImages{busyboxLower(t)}}}
		done <- execute(context.Background(), e, []string{"--root", root, "attach", "term"})
	}()
	inW.Write([]byte("echo hi-there\n"))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "hi-there\r\n") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	inW.Write([]byte{0x10, 0x11})
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "hi-there") {
			t.Fatalf("attach: %d %q", code, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("attach did not detach on ctrl-p ctrl-q")
	}
	inW.Close()
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{.State.Running}}", "term"); out != "true\n" {
		t.Fatalf("container after detaching: %q", out)
	}
	if _, errOut, code := ctrCLI(t, root, "", "attach", "--detach-keys", "ctrl-", "term"); code != 1 || !strings.Contains(errOut, "Invalid escape keys (ctrl-) provided") {
		t.Fatalf("bad detach keys: %d %q", code, errOut)
	}
}

func TestCLICreateStartAttach(t *testing.T) {
	root := ctrRoot(t)
	out, _, code := ctrCLI(t, root, "", "create", "--name", "c1", "--network", "none", "busybox", "sh", "-c", "echo attached; exit 7")
	if code != 0 || len(strings.TrimSpace(out)) != 64 {
		t.Fatalf("create: %d %q", code, out)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "-a", "--format", "{{.Status}}"); out != "Created\n" {
		t.Fatalf("created status: %q", out)
	}
	out, _, code = ctrCLI(t, root, "", "start", "-a", "c1")
	if code != 7 || out != "attached\n" {
		t.Fatalf("start -a: %d %q", code, out)
	}
	if out, _, _ = ctrCLI(t, root, "", "wait", "c1"); out != "7\n" {
		t.Fatalf("wait: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "logs", "c1"); out != "attached\n" {
		t.Fatalf("logs: %q", out)
	}
	if out, _, code = ctrCLI(t, root, "", "rm", "c1"); code != 0 {
		t.Fatalf("rm: %d %q", code, out)
	}
}

func TestCLIPublishAndPrune(t *testing.T) {
	root := ctrRoot(t)
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("slirp4netns not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	out, errOut, code := ctrCLI(t, root, "", "run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox",
		"sh", "-c", "echo hello-from-container > /tmp/index.html; httpd -f -p 80 -h /tmp")
	if code != 0 {
		t.Fatalf("run -p: %d %q %q", code, out, errOut)
	}
	id := strings.TrimSpace(out)
	var body string
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\n\r\n")
			b := new(bytes.Buffer)
			b.ReadFrom(c)
			c.Close()
			body = b.String()
			if strings.Contains(body, "hello-from-container") {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(body, "hello-from-container") {
		t.Fatalf("published port: %q", body)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "--format", "{{.Ports}}"); out != fmt.Sprintf("127.0.0.1:%d->80/tcp\n", port) {
		t.Fatalf("ps ports: %q", out)
	}
	// The same host port again: docker's "port is already allocated".
	_, errOut, code = ctrCLI(t, root, "", "run", "--rm", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "true")
	if code != 125 || !strings.Contains(errOut, "port is already allocated") {
		t.Fatalf("port in use: %d %q", code, errOut)
	}
	ctrCLI(t, root, "", "stop", "-t", "1", id)
	ctrCLI(t, root, "", "create", "--network", "none", "busybox", "true")
	out, _, code = ctrCLI(t, root, "", "container", "prune", "-f")
	if code != 0 || !strings.Contains(out, "Deleted Containers:\n") || !strings.Contains(out, id) {
		t.Fatalf("prune: %d %q", code, out)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "-aq"); out != "" {
		t.Fatalf("after prune: %q", out)
	}
}

func TestCLIDiffCpExport(t *testing.T) {
	root := ctrRoot(t)
	out, errOut, code := ctrCLI(t, root, "", "run", "-d", "--name", "fs", "--network", "none", "busybox",
		"sh", "-c", "echo new > /tmp/f; rm /etc/group; mkdir -p /root/d; echo x > /root/d/y; ln -s / /root/up; touch /ready; sleep 100")
	if code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(out) {
		t.Fatalf("run: %d %q %q", code, out, errOut)
	}
	testutil.WaitFor(t, "the container to touch /ready", func() bool {
		_, _, c := ctrCLI(t, root, "", "exec", "fs", "test", "-e", "/ready")
		return c == 0
	})
	out, _, _ = ctrCLI(t, root, "", "diff", "fs")
	want := "C /etc\nD /etc/group\nA /ready\nC /root\nA /root/d\nA /root/d/y\nA /root/up\nC /tmp\nA /tmp/f\n"
	if out != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", out, want)
	}
	host := t.TempDir()
	if _, errOut, code = ctrCLI(t, root, "", "cp", "fs:/root/d", host); code != 0 {
		t.Fatalf("cp out: %d %q", code, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "d", "y")); string(b) != "x\n" {
		t.Fatalf("cp dir out: %q", b)
	}
	if _, _, code = ctrCLI(t, root, "", "cp", "fs:/tmp/f", filepath.Join(host, "renamed")); code != 0 {
		t.Fatal("cp file out")
	}
	if b, _ := os.ReadFile(filepath.Join(host, "renamed")); string(b) != "new\n" {
		t.Fatalf("cp file out: %q", b)
	}
	// Through a symlink to / inside the container: stays in the container.
	if _, _, code = ctrCLI(t, root, "", "cp", "fs:/root/up/etc/passwd", filepath.Join(host, "pw")); code != 0 {
		t.Fatal("cp through symlink")
	}
	if b, _ := os.ReadFile(filepath.Join(host, "pw")); !strings.HasPrefix(string(b), "root:x:0:0:root:/root:/bin/sh\nnobody") {
		t.Fatalf("cp through symlink read %q", b)
	}
	if _, errOut, code = ctrCLI(t, root, "", "cp", "fs:/../../../../etc/shadow", host); code == 0 || !strings.Contains(errOut, "Could not find the file") {
		t.Fatalf("cp ../: %d %q", code, errOut)
	}
	os.WriteFile(filepath.Join(host, "in.txt"), []byte("into\n"), 0o644)
	if _, errOut, code = ctrCLI(t, root, "", "cp", filepath.Join(host, "in.txt"), "fs:/root/"); code != 0 {
		t.Fatalf("cp in: %d %q", code, errOut)
	}
	if out, _, _ = ctrCLI(t, root, "", "exec", "fs", "cat", "/root/in.txt"); out != "into\n" {
		t.Fatalf("cp in: %q", out)
	}
	ctrCLI(t, root, "", "kill", "fs")
	ctrCLI(t, root, "", "wait", "fs")
	tarPath := filepath.Join(host, "fs.tar")
	if _, errOut, code = ctrCLI(t, root, "", "export", "-o", tarPath, "fs"); code != 0 {
		t.Fatalf("export: %d %q", code, errOut)
	}
	if _, errOut, code = ctrCLI(t, root, "", "export", "-o", "/dev/null", "fs"); code != 1 || !strings.Contains(errOut, "failed to export container: cannot write to a character device file") {
		t.Fatalf("export -o /dev/null: %d %q", code, errOut)
	}
	if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("export -o /dev/null replaced /dev/null: %v", err)
	}
	list, err := exec.Command("tar", "-tf", tarPath).Output()
	if err != nil || !strings.Contains(string(list), "tmp/f\n") || strings.Contains(string(list), "etc/group\n") || !strings.Contains(string(list), "bin/busybox\n") {
		t.Fatalf("export list: %v %q", err, list)
	}
}

func TestCLIVolumesAndPublishAll(t *testing.T) {
	root := ctrRoot(t)
	out, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--network", "none", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
	if code != 0 {
		t.Fatalf("named volume: %d %q %q", code, out, errOut)
	}
	out, _, _ = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "-v", "data:/data:ro", "busybox", "sh", "-c", "cat /data/f; touch /data/g || echo ro")
	if out != "kept\nro\n" {
		t.Fatalf("named volume reuse: %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "volumes", "data", "_data", "f")); string(b) != "kept\n" {
		t.Fatalf("volume on disk: %q", b)
	}
	_, errOut, code = ctrCLI(t, root, "", "run", "--rm", "-v", "rel/path:/x", "busybox", "true")
	if code != 125 {
		t.Fatalf("bad volume: %d %q", code, errOut)
	}
	out, _, code = ctrCLI(t, root, "", "create", "-P", "busybox", "true")
	if code != 0 {
		t.Fatal("create -P")
	}
	out, _, _ = ctrCLI(t, root, "", "container", "inspect", "-f", "{{json .NetworkSettings.Ports}}", strings.TrimSpace(out))
	if !regexp.MustCompile(`^\{"80/tcp":\[\{"HostIp":"0.0.0.0","HostPort":"\d+"\}\]\}\n$`).MatchString(out) {
		t.Fatalf("-P ports: %q", out)
	}
}

func TestCLIInit(t *testing.T) {
	root := ctrRoot(t)
	bin := os.Getenv("HOIST_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "hoist")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/hoistproject/hoist/cmd/hoist")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("cannot build hoist for --init: %v %s", err, out)
		}
	}
	// The real binary is both the monitor and the init here.
	out, err := exec.Command(bin, "--root", root, "import", filepath.Join(busyboxRootTar(t)), "busybox").CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	out, err = exec.Command(bin, "--root", root, "run", "--rm", "--init", "--network", "none", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 4").Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.HasPrefix(string(out), "/dev/init container-init -- sh -c") {
		t.Fatalf("--init: %v %q", err, out)
	}
}

// A foreground run passes the signals it gets to the container; with
// --sig-proxy=false it does not (the container carries on).
func TestCLISigProxy(t *testing.T) {
	root := ctrRoot(t)
	bin := hoistBinary(t)
	if out, err := exec.Command(bin, "--root", root, "import", busyboxRootTar(t), "busybox").CombinedOutput(); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	script := `trap "echo got; exit 3" USR1; trap "echo usr2" USR2; echo ready; while :; do sleep 0.05; done`
	start := func(args ...string) (*exec.Cmd, *bufio.Reader) {
		cmd := exec.Command(bin, append(append([]string{"--root", root, "run", "--network", "none"}, args...), "busybox", "sh", "-c", script)...)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() }) // a hung client fails the test, not the run
		r := bufio.NewReader(stdout)
		if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("run: %q %v", line, err)
		}
		return cmd, r
	}
	cmd, r := start("--rm")
	cmd.Process.Signal(syscall.SIGUSR1)
	rest, _ := io.ReadAll(r)
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 || string(rest) != "got\n" {
		t.Fatalf("proxied USR1: %v %q", err, rest)
	}
	cmd, r = start("--name", "noproxy", "--sig-proxy=false")
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	cmd.Process.Signal(syscall.SIGUSR1) // not passed on: the container carries on
	// A USR2 sent by `kill` after it is what the container gets.
	if out, err := exec.Command(bin, "--root", root, "kill", "-s", "USR2", "noproxy").CombinedOutput(); err != nil {
		t.Fatalf("kill -s USR2: %v %s", err, out)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "usr2\n" {
		t.Fatalf("--sig-proxy=false: the container got %q (%v), want only the USR2 of kill", line, err)
	}
	out, err := exec.Command(bin, "--root", root, "ps", "--format", "{{.Names}} {{.State}}").Output()
	if err != nil || string(out) != "noproxy running\n" {
		t.Fatalf("--sig-proxy=false: the container should run on: %v %q", err, out)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if rest, _ := io.ReadAll(r); strings.Contains(string(rest), "got") {
		t.Fatalf("--sig-proxy=false passed the signal on: %q", rest)
	}
	exec.Command(bin, "--root", root, "rm", "-f", "noproxy").Run()
}

// busyboxRootTar tars the busybox rootfs for `import`.
func busyboxRootTar(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "busybox.tar")
	if out, err := exec.Command("tar", "--numeric-owner", "-C", busyboxLower(t), "-cf", p, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	return p
}

// waitMonitors waits for the monitors of root to finish their last cleanup
// (they delete the runtime's record after the client has its exit code).
func waitMonitors(t *testing.T, root string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		busy := false
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && strings.Contains(string(b), "container-monitor") && strings.Contains(string(b), root+"\x00") {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("monitors of %s still running", root)
}

// storeCLI runs hoist in-process with the real image store of root.
func storeCLI(root string, args ...string) (string, string, int) {
	var o, eo bytes.Buffer
	e := &env{in: strings.NewReader(""), out: &o, errOut: &eo}
	code := execute(context.Background(), e, append([]string{"--root", root}, args...))
	return o.String(), eo.String(), code
}

func TestCLICommit(t *testing.T) {
	root := ctrRoot(t)
	// The real image store: import the busybox rootfs, commit on top of it.
	var out, errOut bytes.Buffer
	e := &env{in: strings.NewReader(""), out: &out, errOut: &errOut}
	if code := execute(context.Background(), e, []string{"--root", root, "import", busyboxRootTar(t), "base:1"}); code != 0 {
		t.Fatalf("import: %q", errOut.String())
	}
	real := func(args ...string) (string, string, int) { return storeCLI(root, args...) }
	if _, errOut, code := real("run", "--name", "cm", "--network", "none", "base:1", "sh", "-c", "echo committed > /hello; rm /etc/group; mkdir /new"); code != 0 {
		t.Fatalf("run: %d %q", code, errOut)
	}
	out2, errOut2, code := real("commit", "-a", "me", "-m", "msg", "-c", `CMD ["cat", "/hello"]`, "cm", "derived:2")
	if code != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(out2) {
		t.Fatalf("commit: %d %q %q", code, out2, errOut2)
	}
	// The committed layer is unpacked on first use; until then the store is
	// consistent too.
	if o, eo, code := real("system", "check"); code != 0 || !strings.Contains(o, "No problems found") {
		t.Fatalf("system check after commit: %d %q %q", code, o, eo)
	}
	if o, _, _ := real("run", "--rm", "--network", "none", "derived:2"); o != "committed\n" {
		t.Fatalf("run committed image: %q", o)
	}
	if o, _, _ := real("run", "--rm", "--network", "none", "derived:2", "sh", "-c", "ls /etc/group 2>&1; test -d /new && echo dir"); !strings.Contains(o, "No such file") || !strings.Contains(o, "dir") {
		t.Fatalf("whiteout / new dir: %q", o)
	}
	// rmi refuses an image a container uses.
	if _, errOut, code := real("rmi", "base:1"); code == 0 || !strings.Contains(errOut, "container") {
		t.Fatalf("rmi of used image: %d %q", code, errOut)
	}
	real("rm", "cm")
}

func TestCLIInspectContainer(t *testing.T) {
	root := ctrRoot(t)
	out, _, _ := ctrCLI(t, root, "", "create", "--name", "insp", "-e", "X=1", "--network", "none", "-v", "/tmp:/hosttmp:ro", "busybox", "echo", "hi")
	id := strings.TrimSpace(out)
	out, errOut, code := ctrCLI(t, root, "", "inspect", "insp")
	if code != 0 {
		t.Fatalf("inspect: %d %q", code, errOut)
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("inspect json: %v %q", err, out)
	}
	o := v[0]
	gd := o["GraphDriver"].(map[string]any)["Data"].(map[string]any)
	if o["Id"] != id || o["Name"] != "/insp" || o["Path"] != "echo" || o["State"].(map[string]any)["Status"] != "created" ||
		!strings.HasSuffix(gd["UpperDir"].(string), id+"/upper") || !strings.Contains(gd["LowerDir"].(string), busyboxLower(t)) ||
		o["Mounts"].([]any)[0].(map[string]any)["Destination"] != "/hosttmp" || o["Config"].(map[string]any)["Env"].([]any)[0] != "X=1" {
		t.Fatalf("inspect fields: %s", out)
	}
	// Templates run on the typed object: docker's field order.
	out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{json .Config}}", "insp")
	if got, want := strings.Join(jsonKeys(t, out), " "), "Hostname Domainname User AttachStdin AttachStdout AttachStderr ExposedPorts Tty OpenStdin StdinOnce Env Cmd Image Volumes WorkingDir Entrypoint OnBuild Labels"; got != want {
		t.Fatalf("{{json .Config}} keys:\n got %s\nwant %s", got, want)
	}
	// every key docker 20.10 has, in its order (so templates reading any of
	// them work)
	out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{json .HostConfig}}", "insp")
	if got, want := strings.Join(jsonKeys(t, out), " "), "Binds ContainerIDFile LogConfig NetworkMode PortBindings RestartPolicy AutoRemove VolumeDriver VolumesFrom CapAdd CapDrop CgroupnsMode Dns DnsOptions DnsSearch ExtraHosts GroupAdd IpcMode Cgroup Links OomScoreAdj PidMode Privileged PublishAllPorts ReadonlyRootfs SecurityOpt UTSMode UsernsMode ShmSize Runtime ConsoleSize Isolation CpuShares Memory NanoCpus CgroupParent BlkioWeight BlkioWeightDevice BlkioDeviceReadBps BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps CpuPeriod CpuQuota CpuRealtimePeriod CpuRealtimeRuntime CpusetCpus CpusetMems Devices DeviceCgroupRules DeviceRequests KernelMemory KernelMemoryTCP MemoryReservation MemorySwap MemorySwappiness OomKillDisable PidsLimit Ulimits CpuCount CpuPercent IOMaximumIOps IOMaximumBandwidth MaskedPaths ReadonlyPaths"; got != want {
		t.Fatalf("{{json .HostConfig}} keys:\n got %s\nwant %s", got, want)
	}
	out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{json .}}", "insp")
	if got, want := strings.Join(jsonKeys(t, out), " "), "Id Created Path Args State Image ResolvConfPath HostnamePath HostsPath LogPath Name RestartCount Driver Platform MountLabel ProcessLabel AppArmorProfile ExecIDs HostConfig GraphDriver Mounts Config NetworkSettings"; got != want {
		t.Fatalf("{{json .}} keys:\n got %s\nwant %s", got, want)
	}
	out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{json .NetworkSettings}}", "insp")
	if got, want := strings.Join(jsonKeys(t, out), " "), "Bridge SandboxID HairpinMode LinkLocalIPv6Address LinkLocalIPv6PrefixLen Ports SandboxKey SecondaryIPAddresses SecondaryIPv6Addresses EndpointID Gateway GlobalIPv6Address GlobalIPv6PrefixLen IPAddress IPPrefixLen IPv6Gateway MacAddress Networks"; got != want {
		t.Fatalf("{{json .NetworkSettings}} keys:\n got %s\nwant %s", got, want)
	}
	if out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{.HostConfig.Privileged}} {{.HostConfig.ShmSize}} {{.HostConfig.PidsLimit}} {{.HostConfig.IpcMode}} {{.HostConfig.RestartPolicy.Name}} {{json .HostConfig.PortBindings}}", "insp"); out != "false 67108864 <nil> private no {}\n" {
		t.Fatalf("docker's defaults: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{.State.Running}} {{.Id}} {{.Config.Image}} {{.HostConfig.NetworkMode}}", "insp"); out != "false "+id+" busybox:latest none\n" {
		t.Fatalf("typed fields: %q", out)
	}
	_, errOut, code = ctrCLI(t, root, "", "container", "inspect", "nosuch")
	if code != 1 || !strings.Contains(errOut, "No such container: nosuch") {
		t.Fatalf("inspect missing: %d %q", code, errOut)
	}
}

func TestCLIRunPullsMissingImage(t *testing.T) {
	root := ctrRoot(t)
	dockerConfigDir(t)
	host := testRegistry(t)
	src := t.TempDir()
	mustRun(t, src, "import", busyboxRootTar(t), host+"/bb:1")
	mustRun(t, src, "push", host+"/bb:1")
	real := func(args ...string) (string, string, int) { return storeCLI(root, args...) }
	_, errOut, code := real("run", "--rm", "--pull", "never", "--network", "none", host+"/bb:1", "true")
	if code != 125 || !strings.Contains(errOut, "No such image") {
		t.Fatalf("--pull never: %d %q", code, errOut)
	}
	out, errOut, code := real("run", "--rm", "--network", "none", host+"/bb:1", "echo", "pulled")
	if code != 0 || out != "pulled\n" || !strings.Contains(errOut, "Unable to find image '"+host+"/bb:1' locally") || !strings.Contains(errOut, "Status: Downloaded newer image for "+host+"/bb:1") {
		t.Fatalf("run pulls: %d %q %q", code, out, errOut)
	}
	if _, errOut, code = real("run", "--rm", "--network", "none", host+"/nosuch:1", "true"); code != 125 {
		t.Fatalf("missing remote image: %d %q", code, errOut)
	}
	// No way to the registry: the message says the image is not here and
	// could not be pulled, naming the registry.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := l.Addr().String()
	l.Close()
	_, errOut, code = real("run", "--rm", "--network", "none", gone+"/bb:1", "true")
	if want := "image '" + gone + "/bb:1' is not present locally and could not be pulled from " + gone + ": "; code != 125 || !strings.Contains(errOut, want) {
		t.Errorf("unreachable registry: %d %q, want %q", code, errOut, want)
	}
	// -q: no pull output
	out, errOut, code = real("run", "--rm", "-q", "--pull", "always", "--network", "none", host+"/bb:1", "echo", "quiet")
	if code != 0 || out != "quiet\n" || errOut != "" {
		t.Fatalf("run -q: %d %q %q", code, out, errOut)
	}
}

func TestCLINetworkModes(t *testing.T) {
	root := ctrRoot(t)
	out, _, code := ctrCLI(t, root, "", "run", "--rm", "--network", "none", "busybox", "sh", "-c", "grep -c : /proc/net/dev; cat /etc/resolv.conf | grep -c nameserver")
	if code != 0 || !strings.HasPrefix(out, "1\n") {
		t.Fatalf("none: only lo expected: %d %q", code, out)
	}
	host, _ := os.Hostname()
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "host", "busybox", "hostname")
	if code != 0 || out != host+"\n" {
		t.Fatalf("host: %d %q want %q", code, out, host)
	}
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("slirp4netns not installed")
	}
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "busybox", "sh", "-c", "ip -4 addr show tap0 | grep -o 'inet [0-9./]*'; cat /etc/resolv.conf; ip link show lo | grep -c UP")
	if code != 0 || out != "inet 10.0.2.100/24\nnameserver 10.0.2.3\n1\n" {
		t.Fatalf("bridge: %d %q", code, out)
	}
	// docker records "default" for no --network, and lists it as bridge
	ctrCLI(t, root, "", "create", "--name", "dflt", "busybox", "true")
	if out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", "dflt"); out != "default bridge\n" {
		t.Fatalf("default network mode: %q", out)
	}
	if out, _, _ = ctrCLI(t, root, "", "ps", "-a", "--format", "{{.Networks}}"); out != "bridge\n" {
		t.Fatalf("ps networks: %q", out)
	}
	_, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--network", "nosuchnet", "busybox", "true")
	if code != 125 || !strings.Contains(errOut, "network nosuchnet not found") {
		t.Fatalf("unknown network: %d %q", code, errOut)
	}
}

// Failures docker's daemon reports read as docker prints them, with its
// exit status, through every verb (no container or runtime is needed).
func TestContainerVerbsNotFound(t *testing.T) {
	root := t.TempDir()
	const none = "Error response from daemon: No such container: nosuch\n"
	cases := []struct {
		args []string
		err  string
	}{
		{[]string{"logs", "nosuch"}, none},
		{[]string{"diff", "nosuch"}, none},
		{[]string{"top", "nosuch"}, none},
		{[]string{"export", "nosuch"}, none},
		{[]string{"commit", "nosuch"}, none},
		{[]string{"attach", "nosuch"}, none},
		{[]string{"exec", "nosuch", "true"}, none},
		{[]string{"cp", "nosuch:/a", t.TempDir()}, none},
		{[]string{"container", "logs", "nosuch"}, none},
		{[]string{"start", "nosuch"}, none + "Error: failed to start containers: nosuch\n"},
		{[]string{"rename", "nosuch", "x"}, none + "Error: failed to rename container named nosuch\n"},
		{[]string{"ps", "-f", "bogus=1"}, "Error response from daemon: Invalid filter 'bogus'\n"},
		{[]string{"ps", "-f", "status=bogus"}, "Error response from daemon: Invalid filter 'status=bogus'\n"},
		{[]string{"ps", "-f", "publish=abc"}, "Error response from daemon: error while looking up for publish abc: strconv.ParseUint: parsing \"abc\": invalid syntax\n"},
		{[]string{"ps", "-f", "expose=70000"}, "Error response from daemon: error while looking up for expose 70000: strconv.ParseUint: parsing \"70000\": value out of range\n"},
		{[]string{"ps", "-f", "publish=5-3/udp"}, "Error response from daemon: error while looking up for publish 5-3/udp: Invalid range specified for the Port: 5-3\n"},
	}
	for _, c := range cases {
		_, errOut, code := run(t, root, c.args...)
		if code != 1 || errOut != c.err {
			t.Errorf("%v: exit %d, stderr %q; want 1, %q", c.args, code, errOut, c.err)
		}
	}
}

// volume create/ls/inspect/rm/prune and port, as docker prints them (the
// containers are only created: nothing runs).
func TestCLIVolumesAndPort(t *testing.T) {
	root := t.TempDir()
	cli := func(args ...string) (string, string, int) { return ctrCLI(t, root, "", args...) }
	if out, _, code := cli("volume", "create", "v1"); code != 0 || out != "v1\n" {
		t.Fatalf("volume create: %d %q", code, out)
	}
	anon, _, _ := cli("volume", "create")
	anon = strings.TrimSpace(anon)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(anon) {
		t.Fatalf("volume create (no name): %q", anon)
	}
	if _, errOut, code := cli("volume", "create", "bad/name"); code != 1 || !strings.HasPrefix(errOut, `Error response from daemon: create bad/name: "bad/name" includes invalid characters`) {
		t.Fatalf("bad name: %d %q", code, errOut)
	}
	if out, _, _ := cli("volume", "ls"); out != "DRIVER    VOLUME NAME\nlocal     "+anon+"\nlocal     v1\n" {
		t.Fatalf("volume ls: %q", out)
	}
	// labels: inspect, ls --format and --filter label=K[=V], as docker
	cli("volume", "create", "--label", "a=b", "--label", "c", "-d", "local", "lab")
	if out, _, _ := cli("volume", "inspect", "-f", "{{json .Labels}}", "lab", "v1"); out != `{"a":"b","c":""}`+"\nnull\n" {
		t.Fatalf("volume labels: %q", out)
	}
	for f, want := range map[string]string{"label=a": "lab a=b,c=\n", "label=a=b": "lab a=b,c=\n", "label=c": "lab a=b,c=\n", "label=a=z": ""} {
		if out, _, _ := cli("volume", "ls", "--filter", f, "--format", "{{.Name}} {{.Labels}}"); out != want {
			t.Errorf("volume ls --filter %s: %q, want %q", f, out, want)
		}
	}
	if _, errOut, code := cli("volume", "create", "-d", "foo", "x"); code != 1 || !strings.Contains(errOut, `error looking up volume plugin foo: plugin "foo" not found`) {
		t.Fatalf("volume create -d foo: %d %q", code, errOut)
	}
	if _, errOut, code := cli("volume", "create", "-o", "type=tmpfs", "x"); code != 1 || !strings.Contains(errOut, "volume options (-o type=tmpfs) are not supported") {
		t.Fatalf("volume create -o: %d %q", code, errOut)
	}
	cli("volume", "rm", "lab")
	if out, _, _ := cli("volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}}", "v1"); out != "v1 local local "+filepath.Join(root, "volumes", "v1", "_data")+"\n" {
		t.Fatalf("volume inspect: %q", out)
	}
	if out, errOut, code := cli("volume", "inspect", "nosuch"); code != 1 || out != "[]\n" || errOut != "Error response from daemon: get nosuch: no such volume\n" {
		t.Fatalf("volume inspect nosuch: %d %q %q", code, out, errOut)
	}
	out, _, code := cli("create", "--name", "user", "-v", "v1:/data", "-p", "18080:80", "-p", "127.0.0.1:18081:81/udp", "busybox", "true")
	id := strings.TrimSpace(out)
	if code != 0 {
		t.Fatalf("create: %d %q", code, out)
	}
	if _, errOut, code := cli("volume", "rm", "v1"); code != 1 || errOut != "Error response from daemon: remove v1: volume is in use - ["+id+"]\n" {
		t.Fatalf("volume rm in use: %d %q", code, errOut)
	}
	if out, _, _ := cli("volume", "ls", "-q", "-f", "dangling=true"); out != anon+"\n" {
		t.Fatalf("volume ls dangling: %q", out)
	}
	// system df counts them, -v lists them and the containers
	if out, _, _ := cli("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}"); !strings.Contains(out, "Local Volumes 2 1\nBuild Cache") || !strings.Contains(out, "Containers 1 0\n") {
		t.Fatalf("system df: %q", out)
	}
	out, _, _ = cli("system", "df", "-v")
	if !regexp.MustCompile(`(?m)^v1 +1 +0B$`).MatchString(out) || !regexp.MustCompile(`(?m)^`+id[:12]+` +busybox:latest +"true" +1 +0B .* user$`).MatchString(out) {
		t.Fatalf("system df -v:\n%s", out)
	}
	if out, _, _ := cli("inspect", "-f", "{{json .HostConfig.PortBindings}}", "user"); out != `{"80/tcp":[{"HostIp":"","HostPort":"18080"}],"81/udp":[{"HostIp":"127.0.0.1","HostPort":"18081"}]}`+"\n" {
		t.Fatalf("inspect PortBindings: %q", out)
	}
	if out, _, code := cli("port", "user"); code != 0 || out != "80/tcp -> 0.0.0.0:18080\n81/udp -> 127.0.0.1:18081\n" {
		t.Fatalf("port: %d %q", code, out)
	}
	if out, _, _ := cli("port", "user", "81/udp"); out != "127.0.0.1:18081\n" {
		t.Fatalf("port 81/udp: %q", out)
	}
	if _, errOut, code := cli("port", "user", "82"); code != 1 || errOut != "Error: No public port '82' published for user\n" {
		t.Fatalf("port 82: %d %q", code, errOut)
	}
	if out, _, code := cli("volume", "prune", "-f"); code != 0 || out != "Deleted Volumes:\n"+anon+"\n\nTotal reclaimed space: 0B\n" {
		t.Fatalf("volume prune: %d %q", code, out)
	}
	cli("rm", "user")
	if out, errOut, code := cli("volume", "rm", "v1", "nosuch"); code != 1 || out != "v1\n" || errOut != "Error response from daemon: get nosuch: no such volume\n" {
		t.Fatalf("volume rm: %d %q %q", code, out, errOut)
	}
	if out, _, code := cli("volume", "rm", "-f", "nosuch"); code != 0 || out != "nosuch\n" {
		t.Fatalf("volume rm -f nosuch: %d %q", code, out)
	}
}

// container prune --filter (until, label) and system prune --volumes.
func TestCLIPruneFilters(t *testing.T) {
	root := t.TempDir()
	cli := func(args ...string) (string, string, int) { return ctrCLI(t, root, "", args...) }
	for _, c := range [][]string{{"--name", "web", "-l", "tier=web"}, {"--name", "db", "-l", "tier=db"}, {"--name", "vol", "-v", "data:/data"}} {
		if _, errOut, code := cli(append(append([]string{"create"}, c...), "busybox", "true")...); code != 0 {
			t.Fatalf("create %v: %d %q", c, code, errOut)
		}
	}
	if out, _, code := cli("container", "prune", "-f", "--filter", "until=1h"); code != 0 || out != "Total reclaimed space: 0B\n" {
		t.Fatalf("prune until=1h removed something: %d %q", code, out)
	}
	if _, errOut, code := cli("container", "prune", "-f", "--filter", "bogus=1"); code != 1 || errOut != "Error response from daemon: Invalid filter 'bogus'\n" {
		t.Fatalf("prune bogus filter: %d %q", code, errOut)
	}
	out, _, code := cli("container", "prune", "-f", "--filter", "label=tier=db")
	if code != 0 || !strings.HasPrefix(out, "Deleted Containers:\n") || strings.Count(out, "\n") != 4 {
		t.Fatalf("prune label=tier=db: %d %q", code, out)
	}
	if out, _, _ := cli("ps", "-a", "--format", "{{.Names}}"); out != "vol\nweb\n" && out != "web\nvol\n" {
		t.Fatalf("after prune label=tier=db: %q", out)
	}
	if out, _, _ := cli("container", "prune", "-f", "--filter", "label!=tier"); !strings.HasPrefix(out, "Deleted Containers:\n") {
		t.Fatalf("prune label!=tier: %q", out)
	}
	if out, _, _ := cli("ps", "-a", "--format", "{{.Names}}"); out != "web\n" {
		t.Fatalf("after prune label!=tier: %q", out)
	}
	out, _, code = cli("system", "prune", "-f", "--volumes")
	if code != 0 || !strings.Contains(out, "Deleted Volumes:\ndata\n\n") {
		t.Fatalf("system prune --volumes: %d %q", code, out)
	}
	if out, _, _ := cli("volume", "ls", "-q"); out != "" {
		t.Fatalf("volumes left: %q", out)
	}
}

// run's and create's failures in docker's shapes and exit statuses (none
// of these gets as far as starting a process).
func TestRunCreateFailureShapes(t *testing.T) {
	root := t.TempDir()
	t.Cleanup(func() { waitMonitors(t, root) }) // run's, told no container
	cli := func(stdin string, args ...string) (string, string, int) { return ctrCLI(t, root, stdin, args...) }
	if _, errOut, code := cli("x\n", "run", "--rm", "-it", "busybox", "true"); code != 1 || errOut != "the input device is not a TTY\n" {
		t.Fatalf("run -it without a terminal: %d %q", code, errOut)
	}
	if _, errOut, code := cli("", "run", "--rm", "-p", "bad", "busybox", "true"); code != 125 || errOut != "hoist: invalid containerPort: bad\n\nRun 'hoist run --help' for more information\n" {
		t.Fatalf("run -p bad: %d %q", code, errOut)
	}
	if _, errOut, code := cli("", "create", "-p", "bad", "busybox", "true"); code != 125 || errOut != "hoist: invalid containerPort: bad\n\nRun 'hoist create --help' for more information\n" {
		t.Fatalf("create -p bad: %d %q", code, errOut)
	}
	out, _, _ := cli("", "create", "--name", "dup", "busybox", "true")
	id := strings.TrimSpace(out)
	conflict := `Error response from daemon: Conflict. The container name "/dup" is already in use by container "` + id + `". You have to remove (or rename) that container to be able to reuse that name.` + "\n"
	if _, errOut, code := cli("", "create", "--name", "dup", "busybox", "true"); code != 1 || errOut != conflict {
		t.Fatalf("create conflict: %d %q", code, errOut)
	}
	if _, errOut, code := cli("", "run", "--name", "dup", "busybox", "true"); code != 125 || errOut != "hoist: "+conflict+"\nRun 'hoist run --help' for more information\n" {
		t.Fatalf("run conflict: %d %q", code, errOut)
	}
	// a created container, in docker's words
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"unpause", "dup"}, "Error response from daemon: Container " + id + " is not paused\n"},
		{[]string{"pause", "dup"}, "Error response from daemon: Container " + id + " is not running\n"},
		{[]string{"attach", "dup"}, "You cannot attach to a stopped container, start it first\n"},
		{[]string{"rename", "dup", "dup"}, "Error response from daemon: Renaming a container with the same name as its current name\nError: failed to rename container named dup\n"},
		{[]string{"rename", "dup", "bad/x"}, "Error response from daemon: Invalid container name (bad/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\nError: failed to rename container named dup\n"},
	} {
		if _, errOut, code := cli("", c.args...); code != 1 || errOut != c.err {
			t.Errorf("%v: %d %q, want 1 %q", c.args, code, errOut, c.err)
		}
	}
}

// HOIST_RUNTIME is docker's default-runtime: new containers get it.
func TestDefaultRuntimeEnv(t *testing.T) {
	if _, err := exec.LookPath("crun"); err != nil {
		t.Skip("crun not installed")
	}
	root := t.TempDir()
	t.Setenv("HOIST_RUNTIME", "crun")
	if out, _, _ := ctrCLI(t, root, "", "info", "-f", "{{.DefaultRuntime}}"); out != "crun\n" {
		t.Fatalf("info DefaultRuntime: %q", out)
	}
	ctrCLI(t, root, "", "create", "--name", "rt", "busybox", "true")
	ctrCLI(t, root, "", "create", "--name", "rt2", "--runtime", "runc", "busybox", "true")
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{.HostConfig.Runtime}}", "rt", "rt2"); out != "crun\nrunc\n" {
		t.Fatalf("runtimes: %q", out)
	}
}

// run's mount, capability, group, /dev/shm, hosts and DNS flags, as docker
// applies them.
func TestCLIRunHostOptions(t *testing.T) {
	root := ctrRoot(t) // (its cleanup removes the containers, then waits for their monitors)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("from host\n"), 0o644)
	out, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--network", "none",
		"--tmpfs", "/x", "--tmpfs", "/y:size=1m,exec",
		"--mount", "type=tmpfs,dst=/z,tmpfs-size=2m,tmpfs-mode=0700",
		"--mount", "type=bind,src="+dir+",dst=/h,readonly",
		"--shm-size", "8m", "busybox", "sh", "-c",
		"stat -c %a /x /z; grep -E ' /(x|y|z|h|dev/shm) ' /proc/mounts | cut -d' ' -f2,4; cat /h/f; touch /h/g 2>/dev/null || echo ro")
	want := "1777\n700\n/dev/shm rw,nosuid,nodev,noexec,relatime,size=8192k\n"
	if code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, "/x rw,nosuid,nodev,noexec,relatime\n") ||
		!strings.Contains(out, "/y rw,nosuid,nodev,relatime,size=1024k\n") || !strings.Contains(out, "/z rw,nosuid,nodev,noexec,relatime,size=2048k,mode=700\n") ||
		!strings.Contains(out, "/h ro,") || !strings.HasSuffix(out, "from host\nro\n") {
		t.Fatalf("mounts: %d %q %q", code, out, errOut)
	}
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--add-host", "foo:1.2.3.4",
		"--dns", "9.9.9.9", "--dns-search", "example.com", "--dns-option", "ndots:2", "busybox", "sh", "-c", "tail -1 /etc/hosts; cat /etc/resolv.conf")
	if code != 0 || out != "1.2.3.4\tfoo\nsearch example.com\nnameserver 9.9.9.9\noptions ndots:2\n" {
		t.Fatalf("hosts and dns: %d %q", code, out)
	}
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "chown",
		"--group-add", "1234", "-u", "nobody", "busybox", "sh", "-c", "grep -E 'CapBnd|Groups' /proc/self/status")
	// The primary group is among the supplementary ones, as docker's
	// (since 20.10.18); the kernel lists them sorted.
	if code != 0 || !strings.Contains(out, "CapBnd:\t0000000000000001\n") || !strings.Contains(out, "Groups:\t1234 65534 \n") {
		t.Fatalf("caps and groups: %d %q", code, out)
	}
	// --privileged: every capability this host can grant, host devices,
	// /sys writable; --pid/--uts host: the host's namespaces
	own, _ := os.ReadFile("/proc/self/status")
	bnd := regexp.MustCompile(`CapBnd:\s+(\S+)`).FindSubmatch(own)
	out, errOut, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--privileged", "busybox", "sh", "-c",
		"grep CapEff /proc/self/status; grep ' /sys ' /proc/mounts | cut -d' ' -f4; test -e /dev/null && ls /dev | wc -l")
	if code != 0 || bnd == nil || !strings.HasPrefix(out, "CapEff:\t"+string(bnd[1])+"\nrw,") {
		t.Fatalf("privileged: %d %q %q", code, out, errOut)
	}
	host, _ := os.Hostname()
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--pid", "host", "--uts", "host", "busybox", "sh", "-c", "echo $$; hostname")
	if code != 0 || strings.HasPrefix(out, "1\n") || !strings.HasSuffix(out, "\n"+host+"\n") {
		t.Fatalf("pid/uts host: %d %q", code, out)
	}
	if _, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--memory-swap", "1g", "busybox", "true"); code != 125 || !strings.Contains(errOut, "You should always set the Memory limit when using Memoryswap limit") {
		t.Fatalf("memory-swap without -m: %d %q", code, errOut)
	}
	_, errOut, code = ctrCLI(t, root, "", "run", "--rm", "--mount", "type=bind,src=/nonexistent-hoist,dst=/z", "busybox", "true")
	if code != 125 || !strings.HasPrefix(errOut, `hoist: Error response from daemon: invalid mount config for type "bind": bind source path does not exist: /nonexistent-hoist`) {
		t.Fatalf("missing bind source: %d %q", code, errOut)
	}
	for _, c := range []struct{ args, err string }{
		{"--cap-add nope", `hoist: Error response from daemon: invalid CapAdd: unknown capability: "CAP_NOPE"`},
		{"--add-host foo:bad", `hoist: invalid argument "foo:bad" for "--add-host" flag: invalid IP address in add-host: "bad"`},
		{"--dns nope", `hoist: invalid argument "nope" for "--dns" flag: nope is not an ip address`},
		{"--mount type=tmpfs,src=x,dst=/t", `hoist: invalid mount config for type "tmpfs": field Source must not be specified`},
		{"--tmpfs rel", `hoist: invalid mount config for type "tmpfs": invalid mount path: 'rel' mount path must be absolute`},
	} {
		_, errOut, code := ctrCLI(t, root, "", append(append([]string{"run", "--rm"}, strings.Fields(c.args)...), "busybox", "true")...)
		if code != 125 || !strings.HasPrefix(errOut, c.err+"\n") {
			t.Errorf("%s: %d %q, want 125 %q", c.args, code, errOut, c.err)
		}
	}
}

// docker's --device, --sysctl, --volumes-from, --domainname,
// --oom-score-adj, --memory-swappiness, --cgroup-parent, --cgroupns and
// --sig-proxy, through the CLI with real runc; bad values get docker's
// messages.
func TestCLIRunKernelOptions(t *testing.T) {
	root := ctrRoot(t)
	out, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--network", "none",
		"--device", "/dev/null:/dev/mynull", "--sysctl", "kernel.shmmax=1000000", "--domainname", "ex.com",
		"--oom-score-adj", "500", "--memory-swappiness", "10", "--cgroupns", "private", "--cgroup-parent", "hoist-test-parent",
		"busybox", "sh", "-c", "stat -c '%t:%T %F' /dev/mynull; echo x > /dev/mynull && echo written; cat /proc/sys/kernel/shmmax /proc/sys/kernel/domainname /proc/self/oom_score_adj; readlink /proc/self/ns/cgroup; cat /proc/1/cgroup")
	selfNS, _ := os.Readlink("/proc/self/ns/cgroup")
	lines := strings.Split(out, "\n")
	if code != 0 || len(lines) < 7 || lines[0] != "1:3 character special file" || lines[1] != "written" ||
		lines[2] != "1000000" || lines[3] != "ex.com" || lines[4] != "500" || lines[5] == selfNS {
		t.Fatalf("kernel options: %d %q %q", code, out, errOut)
	}
	// The cgroup namespace hides the path; outside it, it is under the parent.
	t.Cleanup(func() { // the parent cgroups, once the monitors have deleted their containers'
		for i := 0; i < 200; i++ {
			left, _ := filepath.Glob("/sys/fs/cgroup/*/hoist-test-parent")
			if _, err := os.Stat("/sys/fs/cgroup/hoist-test-parent"); err == nil {
				left = append(left, "/sys/fs/cgroup/hoist-test-parent")
			}
			for _, d := range left {
				os.Remove(d)
			}
			if len(left) == 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	out, _, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--cgroup-parent", "hoist-test-parent", "busybox", "cat", "/proc/self/cgroup")
	if code != 0 || !strings.Contains(out, "/hoist-test-parent/hoist-") {
		t.Fatalf("cgroup parent: %d %q", code, out)
	}
	// --volumes-from: the same volumes (named, anonymous) and binds, the
	// mode overridable; rm -v of the source keeps a volume still in use.
	host := t.TempDir()
	ctrCLI(t, root, "", "create", "--name", "src", "-v", "vf-named:/named", "-v", host+":/h", "--mount", "type=volume,dst=/anon", "busybox", "true")
	out, errOut, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--volumes-from", "src", "busybox", "sh", "-c", "echo n > /named/f; echo a > /anon/f; echo h > /h/f; echo ok")
	if b, _ := os.ReadFile(filepath.Join(host, "f")); code != 0 || out != "ok\n" || string(b) != "h\n" {
		t.Fatalf("volumes-from: %d %q %q %q", code, out, errOut, b)
	}
	ctrCLI(t, root, "", "create", "--name", "user", "--volumes-from", "src:ro", "busybox", "true")
	if out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{range .Mounts}}{{.Destination}}:{{.RW}} {{end}}{{.HostConfig.VolumesFrom}}", "user"); out != "/named:false /h:false /anon:false [src:ro]\n" {
		t.Fatalf("volumes-from :ro: %q", out)
	}
	if _, errOut, code = ctrCLI(t, root, "", "rm", "-v", "src"); code != 0 {
		t.Fatalf("rm -v src: %d %q", code, errOut)
	}
	if out, errOut, code = ctrCLI(t, root, "", "start", "-a", "user"); code != 0 || out != "" {
		t.Fatalf("start a container whose volumes' first owner is gone: %d %q %q", code, out, errOut)
	}
	if out, errOut, code = ctrCLI(t, root, "", "run", "--rm", "--network", "none", "--volumes-from", "user", "busybox", "cat", "/named/f", "/anon/f"); code != 0 || out != "n\na\n" {
		t.Fatalf("a volume in use was removed with its first container: %d %q %q", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "/dev/nope"}, `hoist: Error response from daemon: error gathering device information while adding custom device "/dev/nope": no such file or directory`},
		{[]string{"--device", "/dev/null:rel"}, `hoist: invalid argument "/dev/null:rel" for "--device" flag: bad format for path: rel`},
		{[]string{"--sysctl", "vm.swappiness=1"}, `hoist: invalid argument "vm.swappiness=1" for "--sysctl" flag: sysctl 'vm.swappiness=1' is not allowed`},
		{[]string{"--network", "host", "--sysctl", "net.ipv4.ip_forward=1"}, `sysctl "net.ipv4.ip_forward" not allowed in host network namespace`},
		{[]string{"--volumes-from", "nosuch"}, "hoist: Error response from daemon: No such container: nosuch"},
		{[]string{"--oom-score-adj", "2000"}, "hoist: Error response from daemon: Invalid value 2000, range for oom score adj is [-1000, 1000]"},
		{[]string{"--memory-swappiness", "200"}, "hoist: invalid value: 200. Valid memory swappiness range is 0-100"},
		{[]string{"--userns", "foo"}, "hoist: --userns: invalid USER mode"},
		{[]string{"--cgroupns", "foo"}, "hoist: --cgroupns: invalid CGROUP mode"},
	} {
		args := append(append([]string{"run", "--rm", "--network", "none"}, tc.args...), "busybox", "true")
		_, errOut, code := ctrCLI(t, root, "", args...)
		if code != 125 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: %d %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// An exec'd process gets the container's capabilities, --group-add groups
// and no-new-privileges, never more (a --cap-drop ALL container's exec had
// docker's default set); exec --privileged gets all the host can grant.
func TestCLIExecKeepsContainerRestrictions(t *testing.T) {
	root := ctrRoot(t)
	if _, errOut, code := ctrCLI(t, root, "", "run", "-d", "--name", "tight", "--network", "none", "--cap-drop", "ALL", "--group-add", "50",
		"--security-opt", "no-new-privileges", "busybox", "sleep", "30"); code != 0 {
		t.Fatalf("run: %d %q", code, errOut)
	}
	out, errOut, code := ctrCLI(t, root, "", "exec", "tight", "grep", "-E", "CapEff|Groups|NoNewPrivs", "/proc/self/status")
	if code != 0 || out != "Groups:\t0 50 \nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n" {
		t.Fatalf("exec in a restricted container: %d %q %q", code, out, errOut)
	}
	own, _ := os.ReadFile("/proc/self/status")
	bnd := regexp.MustCompile(`CapBnd:\s+(\S+)`).FindSubmatch(own)
	out, _, code = ctrCLI(t, root, "", "exec", "--privileged", "tight", "grep", "CapEff", "/proc/self/status")
	if code != 0 || bnd == nil || out != "CapEff:\t"+string(bnd[1])+"\n" {
		t.Fatalf("exec --privileged: %d %q", code, out)
	}
}

// `events`: what happened to containers and volumes, in docker's line
// and JSON forms, filtered, and followed while it happens.
func TestCLIEvents(t *testing.T) {
	root := ctrRoot(t)
	follow := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	log := events.New(root)
	log.Record("image", "tag", "before", nil) // the follower starts past it
	go func() {
		e := &env{in: strings.NewReader(""), out: follow, errOut: io.Discard}
		done <- execute(ctx, e, []string{"--root", root, "events", "--format", "{{.Type}} {{.Action}}"})
	}()
	testutil.WaitFor(t, "events to follow the log", func() bool { return testutil.OpenAtEnd(log.Path) })
	if _, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--name", "evc", "-l", "team=a", "--network", "none", "busybox", "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("run: %d %q", code, errOut)
	}
	ctrCLI(t, root, "", "volume", "create", "evv")
	ctrCLI(t, root, "", "volume", "rm", "evv")
	want := "container create\ncontainer start\ncontainer die\ncontainer destroy\nvolume create\nvolume destroy\n"
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && follow.String() != want {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || follow.String() != want {
		t.Fatalf("events (followed): %d %q", code, follow.String())
	}
	out, errOut, code := ctrCLI(t, root, "", "events", "--since", "1m", "--until", "0s", "-f", "container=evc", "-f", "event=die")
	if code != 0 || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT[0-9:.]+Z container die [0-9a-f]{64} \(exitCode=3, image=busybox(:latest)?, name=evc, team=a\)\n$`).MatchString(out) {
		t.Fatalf("events --since: %d %q %q", code, out, errOut)
	}
	out, _, _ = ctrCLI(t, root, "", "events", "--since", "1m", "--until", "0s", "-f", "type=volume", "--format", "{{json .}}")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[0], `"Type":"volume","Action":"create","Actor":{"ID":"evv","Attributes":{"driver":"local"}}`) {
		t.Fatalf("events json: %q", out)
	}
	if _, errOut, code := ctrCLI(t, root, "", "events", "-f", "bogus=1", "--until", "0s"); code == 0 || !strings.Contains(errOut, "Invalid filter 'bogus'") {
		t.Fatalf("bad filter: %d %q", code, errOut)
	}
}

// Mount propagation as docker: a shared bind passes the container's mounts
// to the host; a slave or shared bind of a source on a private mount, a bad
// mode, bind options on a volume and a read-only anonymous volume are
// refused with docker's messages.
func TestCLIRunMountPropagation(t *testing.T) {
	root := ctrRoot(t)
	dir := t.TempDir()
	if err := syscall.Mount("hoist-prop", dir, "tmpfs", 0, ""); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() {
		syscall.Unmount(filepath.Join(dir, "m"), syscall.MNT_DETACH)
		syscall.Unmount(dir, syscall.MNT_DETACH)
	})
	if err := syscall.Mount("", dir, "", syscall.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := ctrCLI(t, root, "", "run", "--name", "prop", "--network", "none", "--cap-add", "SYS_ADMIN",
		"--mount", "type=bind,src="+dir+",dst=/x,bind-propagation=rshared", "busybox", "sh", "-c",
		"mkdir /x/m && mount -t tmpfs t /x/m && echo hi > /x/m/f && echo ok")
	if code != 0 || out != "ok\n" {
		t.Fatalf("shared bind: %d %q %q", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "m", "f")); err != nil || string(b) != "hi\n" {
		t.Fatalf("the container's mount did not reach the host: %q %v", b, err)
	}
	if mounted, _ := mount.IsMountPoint(filepath.Join(dir, "m")); !mounted {
		t.Fatal("no mount at the shared bind's m on the host")
	}
	out, _, _ = ctrCLI(t, root, "", "inspect", "--format", "{{range .Mounts}}{{.Propagation}} {{.Mode}}{{end}}", "prop")
	if out != "rshared rshared\n" {
		t.Fatalf("inspect Mounts: %q", out)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-v", dir + ":/x:rslave"}, "hoist: Error response from daemon: path " + dir + " is mounted on " + dir + " but it is not a shared or slave mount\n"},
		{[]string{"--mount", "type=bind,src=" + dir + ",dst=/x,bind-propagation=shared"}, "hoist: Error response from daemon: path " + dir + " is mounted on " + dir + " but it is not a shared mount\n"},
		{[]string{"-v", dir + ":/x:shared,slave"}, "invalid mode: shared,slave"},
		{[]string{"--mount", "type=bind,src=" + dir + ",dst=/x,bind-propagation=bogus"}, `hoist: Error response from daemon: invalid mount config for type "bind": invalid propagation mode: bogus`},
		{[]string{"--mount", "type=volume,dst=/x,bind-propagation=rslave"}, `for "--mount" flag: cannot mix 'bind-*' options with mount type 'volume'`},
		{[]string{"--mount", "type=volume,dst=/x,readonly"}, `hoist: Error response from daemon: invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes`},
		{[]string{"--mount", "type=bind,src=" + dir + ",dst=/x,volume-nocopy"}, `for "--mount" flag: cannot mix 'volume-*' options with mount type 'bind'`},
	} {
		args := append(append([]string{"run", "--rm", "--network", "none"}, tc.args...), "busybox", "true")
		_, errOut, code := ctrCLI(t, root, "", args...)
		if code != 125 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: %d %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
	if mps, _ := mount.MountPoints(filepath.Join(root, "containers")); len(mps) > 0 {
		t.Fatalf("mounts left: %q", mps)
	}
	// nocopy: a new volume is not filled from the image's directory
	for _, args := range [][]string{{"-v", "nc1:/etc:nocopy"}, {"--mount", "type=volume,src=nc2,dst=/etc,volume-nocopy"}, {"-v", "nc3:/etc"}} {
		want := "empty\n"
		if args[1] == "nc3:/etc" {
			want = "copied\n"
		}
		out, errOut, code := ctrCLI(t, root, "", append(append([]string{"run", "--rm", "--network", "none"}, args...), "busybox", "sh", "-c", "test -e /etc/passwd && echo copied || echo empty")...)
		if code != 0 || out != want {
			t.Errorf("%q: %d %q %q, want %q", args, code, out, errOut, want)
		}
	}
}

// create's --cidfile, --expose and --label-file (nothing runs).
func TestCLICreateFileOptions(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	cid, lf := filepath.Join(dir, "cid"), filepath.Join(dir, "labels")
	os.WriteFile(lf, []byte("a=1\n# comment\n\nb=2\n"), 0o644)
	out, errOut, code := ctrCLI(t, root, "", "create", "--cidfile", cid, "--expose", "80", "--expose", "90-91/udp", "--label-file", lf, "-l", "b=3", "busybox", "true")
	id := strings.TrimSpace(out)
	if b, _ := os.ReadFile(cid); code != 0 || string(b) != id {
		t.Fatalf("cidfile: %d %q %q %q", code, out, errOut, b)
	}
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{json .Config.ExposedPorts}} {{json .Config.Labels}} {{.HostConfig.ContainerIDFile}}", id); out != `{"80/tcp":{},"90/udp":{},"91/udp":{}} {"a":"1","b":"3"} `+cid+"\n" {
		t.Fatalf("expose, labels: %q", out)
	}
	if _, errOut, code := ctrCLI(t, root, "", "create", "--cidfile", cid, "busybox", "true"); code != 125 || !strings.HasPrefix(errOut, "hoist: Container ID file found, make sure the other container isn't running or delete "+cid+"\n") {
		t.Fatalf("existing cidfile: %d %q", code, errOut)
	}
	if out, _, _ := ctrCLI(t, root, "", "ps", "-aq"); strings.Count(out, "\n") != 1 {
		t.Fatalf("a container was made despite the cidfile: %q", out)
	}
	out, _, _ = ctrCLI(t, root, "", "create", "--privileged", "--ipc", "host", "--pid", "host", "--cpuset-cpus", "0", "--cpu-quota", "5000",
		"-m", "64m", "--memory-swap", "-1", "--memory-reservation", "32m", "--oom-kill-disable", "--cap-add", "NET_ADMIN", "--shm-size", "1m", "busybox", "true")
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{.HostConfig.Privileged}} {{.HostConfig.IpcMode}} {{.HostConfig.PidMode}} {{.HostConfig.CpusetCpus}} {{.HostConfig.CpuQuota}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.OomKillDisable}} {{.HostConfig.CapAdd}} {{.HostConfig.ShmSize}}", strings.TrimSpace(out)); out != "true host host 0 5000 -1 33554432 true [NET_ADMIN] 1048576\n" {
		t.Fatalf("inspect of the host options: %q", out)
	}
	if _, errOut, code := ctrCLI(t, root, "", "create", "--pid", "container:x", "busybox", "true"); code != 125 || !strings.Contains(errOut, "invalid pid mode: container:x") {
		t.Fatalf("pid mode: %d %q", code, errOut)
	}
	for v, want := range map[string]string{
		"abc":   `invalid range format for --expose: abc, error: strconv.ParseUint: parsing "abc": invalid syntax`,
		"5-3":   "invalid range format for --expose: 5-3, error: invalid range specified for port: 5-3",
		"70000": `invalid range format for --expose: 70000, error: strconv.ParseUint: parsing "70000": value out of range`,
	} {
		if _, errOut, code := ctrCLI(t, root, "", "create", "--expose", v, "busybox", "true"); code != 125 || !strings.HasPrefix(errOut, "hoist: "+want+"\n") {
			t.Errorf("--expose %s: %d %q", v, code, errOut)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// --platform: an image of another platform counts as missing, as docker
// 20.10 (with --pull never: docker's refusal).
func TestCreatePlatform(t *testing.T) {
	root := t.TempDir()
	mustRun(t, root, "import", rootfsTar(t, map[string]string{"bin/true": "x"}), "plat:1")
	here := "linux/" + goruntime.GOARCH
	if out, errOut, code := run(t, root, "create", "--platform", here, "plat:1", "true"); code != 0 || len(strings.TrimSpace(out)) != 64 {
		t.Fatalf("create --platform %s: %d %q %q", here, code, out, errOut)
	}
	other := "linux/s390x"
	if goruntime.GOARCH == "s390x" {
		other = "linux/amd64"
	}
	_, errOut, code := run(t, root, "create", "--platform", other, "--pull", "never", "plat:1", "true")
	if code != 1 || errOut != "Error response from daemon: image with reference plat:1 was found but does not match the specified platform: wanted "+other+", actual: "+here+"\n" {
		t.Fatalf("create --platform %s --pull never: %d %q", other, code, errOut)
	}
	if _, errOut, code := run(t, root, "create", "--platform", "nonsense", "plat:1", "true"); code != 125 || !strings.Contains(errOut, `invalid platform "nonsense"`) {
		t.Fatalf("bad platform: %d %q", code, errOut)
	}
}

// --health-*: the monitor probes the running container as docker does;
// ps and inspect show it, and the health filter finds it.
func TestCLIHealthcheck(t *testing.T) {
	root := ctrRoot(t) // (its cleanup removes the containers, then waits for their monitors)
	out, errOut, code := ctrCLI(t, root, "", "run", "-d", "--name", "hc", "--network", "none", "--health-cmd", "test -e /tmp/ok || { echo not yet; exit 1; }",
		"--health-interval", "100ms", "--health-retries", "2", "busybox", "sleep", "60")
	if code != 0 {
		t.Fatalf("run: %d %q %q", code, out, errOut)
	}
	waitFor := func(want string) string {
		t.Helper()
		var got string
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{.State.Health.Status}}", "hc"); got == want+"\n" {
				return got
			}
		}
		t.Fatalf("health never became %s (last %q)", want, got)
		return got
	}
	waitFor("unhealthy")
	if out, _, _ := ctrCLI(t, root, "", "ps", "--format", "{{.Status}}"); !strings.HasSuffix(out, " (unhealthy)\n") {
		t.Fatalf("ps status: %q", out)
	}
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}", "hc"); out != "1 not yet\n\n" {
		t.Fatalf("probe log: %q", out)
	}
	ctrCLI(t, root, "", "exec", "hc", "touch", "/tmp/ok")
	waitFor("healthy")
	if out, _, _ := ctrCLI(t, root, "", "ps", "-q", "-f", "health=healthy"); strings.TrimSpace(out) == "" {
		t.Fatal("ps -f health=healthy found nothing")
	}
	if out, _, _ := ctrCLI(t, root, "", "ps", "-q", "-f", "health=none"); out != "" {
		t.Fatalf("ps -f health=none: %q", out)
	}
	ctrCLI(t, root, "", "stop", "-t", "0", "hc")
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{.State.Health.Status}}", "hc"); out != "unhealthy\n" {
		t.Fatalf("health after stop (docker: unhealthy): %q", out)
	}
	if _, errOut, code := ctrCLI(t, root, "", "create", "--no-healthcheck", "--health-cmd", "true", "busybox", "true"); code != 125 || !strings.Contains(errOut, "--no-healthcheck conflicts with --health-* options") {
		t.Fatalf("conflicting health flags: %d %q", code, errOut)
	}
}

// --log-opt max-size/max-file rotate the json-file log (logs reads across
// the files); --log-driver none keeps none.
func TestCLILogOptions(t *testing.T) {
	root := ctrRoot(t) // (its cleanup removes the containers, then waits for their monitors)
	out, errOut, code := ctrCLI(t, root, "", "run", "--name", "rot", "--network", "none", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
		"busybox", "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done")
	if code != 0 || !strings.HasSuffix(out, "line-199\n") {
		t.Fatalf("run: %d %q", code, errOut)
	}
	out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{.Id}}", "rot")
	dir := filepath.Join(root, "containers", strings.TrimSpace(out))
	for _, n := range []string{"container-json.log", "container-json.log.1", "container-json.log.2"} {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.Size() > 1024 {
			t.Fatalf("%s: %v", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "container-json.log.3")); !os.IsNotExist(err) {
		t.Fatalf("a fourth file: %v", err)
	}
	if out, _, _ := ctrCLI(t, root, "", "logs", "--tail", "2", "rot"); out != "line-198\nline-199\n" {
		t.Fatalf("logs --tail across files: %q", out)
	}
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{json .HostConfig.LogConfig}}", "rot"); out != `{"Type":"json-file","Config":{"max-file":"3","max-size":"1k"}}`+"\n" {
		t.Fatalf("LogConfig: %q", out)
	}
	ctrCLI(t, root, "", "run", "--name", "quiet", "--network", "none", "--log-driver", "none", "busybox", "echo", "hi")
	if _, errOut, code := ctrCLI(t, root, "", "logs", "quiet"); code != 1 || errOut != "Error response from daemon: configured logging driver does not support reading\n" {
		t.Fatalf("logs of --log-driver none: %d %q", code, errOut)
	}
	for _, c := range []struct{ flag, err string }{
		{"--log-driver=syslog", "logger: no log driver named 'syslog' is registered"},
		{"--log-opt=max-file=2", "max-file cannot be set without max-size"},
		{"--log-opt=foo=bar", "unknown log opt 'foo' for json-file log driver"},
		{"--log-opt=max-size=-1", `invalid max-size "-1"`},
	} {
		if _, errOut, code := ctrCLI(t, root, "", "run", "--rm", c.flag, "busybox", "true"); code != 125 || !strings.Contains(errOut, c.err) {
			t.Errorf("%s: %d %q", c.flag, code, errOut)
		}
	}
}

// run -a: only the named streams are attached.
func TestCLIRunAttachStreams(t *testing.T) {
	root := ctrRoot(t)
	out, errOut, code := ctrCLI(t, root, "", "run", "--rm", "--network", "none", "-a", "stderr", "busybox", "sh", "-c", "echo out; echo err >&2")
	if code != 0 || out != "" || errOut != "err\n" {
		t.Fatalf("-a stderr: %d %q %q", code, out, errOut)
	}
	out, _, code = ctrCLI(t, root, "piped\n", "run", "--rm", "--network", "none", "-i", "-a", "STDIN", "-a", "stdout", "busybox", "cat")
	if code != 0 || out != "piped\n" {
		t.Fatalf("-i -a stdin -a stdout: %d %q", code, out)
	}
	if _, errOut, code := ctrCLI(t, root, "", "run", "-d", "-a", "stdout", "busybox", "true"); code != 125 || !strings.HasPrefix(errOut, "hoist: Conflicting options: -a and -d\n") {
		t.Fatalf("-a with -d: %d %q", code, errOut)
	}
	if _, errOut, code := ctrCLI(t, root, "", "run", "--rm", "-a", "bogus", "busybox", "true"); code != 125 || !strings.Contains(errOut, "valid streams are STDIN, STDOUT and STDERR") {
		t.Fatalf("-a bogus: %d %q", code, errOut)
	}
}

// stats --no-stream: docker's columns, from the container's cgroups.
func TestCLIStats(t *testing.T) {
	root := ctrRoot(t)
	if _, errOut, code := ctrCLI(t, root, "", "run", "-d", "--name", "busy", "--network", "none", "-m", "64m", "busybox", "sh", "-c", "while :; do :; done"); code != 0 {
		t.Fatalf("run: %d %q", code, errOut)
	}
	out, errOut, code := ctrCLI(t, root, "", "stats", "--no-stream")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS") {
		t.Fatalf("stats: %d %q %q", code, out, errOut)
	}
	out, _, _ = ctrCLI(t, root, "", "stats", "--no-stream", "--format", "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}", "busy")
	f := strings.Split(strings.TrimSpace(out), "|")
	if len(f) != 4 || f[0] != "busy" || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[2], " / 64MiB") || f[3] == "0" {
		t.Fatalf("stats busy: %q", out)
	}
	if cpu, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64); err != nil || cpu <= 1 {
		t.Fatalf("a busy loop shows %s CPU", f[1])
	}
	if _, errOut, code := ctrCLI(t, root, "", "stats", "--no-stream", "nosuch"); code != 1 || errOut != "Error response from daemon: No such container: nosuch\n" {
		t.Fatalf("stats nosuch: %d %q", code, errOut)
	}
}

// update: new limits in the record and, while it runs, in its cgroups.
func TestCLIUpdate(t *testing.T) {
	root := ctrRoot(t)
	out, errOut, code := ctrCLI(t, root, "", "run", "-d", "--name", "upd", "--network", "none", "busybox", "sleep", "60")
	if code != 0 {
		t.Fatalf("run: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := ctrCLI(t, root, "", "update", "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", "upd"); code != 0 || out != "upd\n" {
		t.Fatalf("update: %d %q %q", code, out, errOut)
	}
	if out, _, _ := ctrCLI(t, root, "", "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}", "upd"); out != "67108864 50 500000000\n" {
		t.Fatalf("inspect: %q", out)
	}
	out, _, _ = ctrCLI(t, root, "", "exec", "upd", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max")
	if out != "67108864\n50\n" {
		t.Fatalf("cgroups after update: %q", out)
	}
	if _, errOut, code := ctrCLI(t, root, "", "update", "--memory", "64m", "nosuch"); code != 1 || errOut != "Error response from daemon: No such container: nosuch\n" {
		t.Fatalf("update nosuch: %d %q", code, errOut)
	}
}

// ps -f before=, since=, volume=, network=, publish=, expose= (nothing runs).
func TestCLIPsMoreFilters(t *testing.T) {
	root := t.TempDir()
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := ctrCLI(t, root, "", args...)
		if code != 0 {
			t.Fatalf("%v: %d %q", args, code, errOut)
		}
		return out
	}
	cli("create", "--name", "one", "-p", "18080:80", "busybox", "true")
	cli("create", "--name", "two", "-v", "vol:/data", "--expose", "9000-9001/udp", "busybox", "true")
	cli("create", "--name", "three", "--network", "none", "busybox", "true")
	for filter, want := range map[string]string{
		"before=three": "two\none\n", "since=one": "three\ntwo\n", "volume=vol": "two\n", "volume=/data": "two\n",
		"network=none": "three\n", "network=bridge": "two\none\n", "publish=80": "one\n", "publish=80/udp": "",
		"expose=9001/udp": "two\n", "expose=8000-9000": "two\n",
	} {
		if got := cli("ps", "-a", "--format", "{{.Names}}", "-f", filter); got != want {
			t.Errorf("-f %s: %q, want %q", filter, got, want)
		}
	}
	if _, errOut, code := ctrCLI(t, root, "", "ps", "-a", "-f", "before=nosuch"); code != 1 || errOut != "Error response from daemon: No such container: nosuch\n" {
		t.Fatalf("before=nosuch: %d %q", code, errOut)
	}
}

// A probe past --health-timeout fails the check and is killed.
func TestCLIHealthcheckTimeout(t *testing.T) {
	root := ctrRoot(t) // (its cleanup removes the containers, then waits for their monitors)
	if _, errOut, code := ctrCLI(t, root, "", "run", "-d", "--name", "slow", "--network", "none", "--health-cmd", "sleep 30",
		"--health-timeout", "200ms", "--health-interval", "100ms", "--health-retries", "1", "busybox", "sleep", "60"); code != 0 {
		t.Fatalf("run: %d %q", code, errOut)
	}
	var out string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out, _, _ = ctrCLI(t, root, "", "inspect", "-f", "{{.State.Health.Status}} {{(index .State.Health.Log 0).Output}}", "slow"); strings.HasPrefix(out, "unhealthy ") {
			break
		}
	}
	if out != "unhealthy Health check exceeded timeout (200ms)\n" {
		t.Fatalf("health: %q", out)
	}
	// The timed-out probes are killed: at most one (a probe running right
	// now) is left.
	var ps string
	testutil.WaitFor(t, "the timed-out probes to be killed", func() bool {
		ps, _, _ = ctrCLI(t, root, "", "exec", "slow", "ps", "-o", "args")
		return strings.Count(ps, "sleep 30") <= 1
	})
}

// keepHostNetwork makes containers on the default network use slirp4netns
// in these tests, except inside the network namespace TestNetworks makes:
// the bridge transport would add interfaces and rules to the host's
// network.
func keepHostNetwork() {
	if os.Getenv("HOIST_TEST_NETNS") == "" && os.Getenv("HOIST_NETWORK_TRANSPORT") == "" {
		os.Setenv("HOIST_NETWORK_TRANSPORT", "slirp4netns")
	}
}
