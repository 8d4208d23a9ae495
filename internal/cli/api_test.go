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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/hoistproject/hoist/internal/container/proc"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/hoistproject/hoist/internal/testutil"
)

// apiServer is a `hoist serve` of root on a unix socket in a new
// directory; it returns the socket's path. Cleanup kills the server, then
// removes what the test left running in root.
type apiServer struct {
	t          *testing.T
	bin, root  string
	sock, host string
	cmd        *exec.Cmd
	exited     chan struct{}
	logs       bytes.Buffer
	// buildkit leaves docker's choice of builder alone (buildx when its
	// plugin is installed); else the classic builder (DOCKER_BUILDKIT=0).
	buildkit bool
}

func startAPIServer(t *testing.T, bin, root string) *apiServer {
	t.Helper()
	if _, err := os.Stat("/usr/local/bin/docker"); err != nil {
		t.Skip("docker CLI not installed at /usr/local/bin/docker")
	}
	dir, err := os.MkdirTemp("", "hoist-api-") // short: a socket path has 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &apiServer{t: t, bin: bin, root: root, sock: filepath.Join(dir, "hoist.sock")}
	s.host = "unix://" + s.sock
	t.Cleanup(func() {
		out, _ := exec.Command(bin, "--root", root, "ps", "-aq").Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command(bin, append([]string{"--root", root, "rm", "-f"}, ids...)...).Run()
		}
		waitMonitors(t, root)
	})
	s.start()
	return s
}

func (s *apiServer) start() {
	t := s.t
	s.logs.Reset()
	s.cmd = exec.Command(s.bin, "--root", s.root, "serve", "--host", s.host)
	s.cmd.Stdout, s.cmd.Stderr = &s.logs, &s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() { s.cmd.Wait(); close(exited) }()
	cmd := s.cmd
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	testutil.WaitFor(t, "hoist serve to answer on "+s.sock, func() bool {
		select {
		case <-exited:
			t.Fatalf("hoist serve exited: %s", s.logs.String())
		default:
		}
		c, err := net.Dial("unix", s.sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// kill ends the server with SIGKILL.
func (s *apiServer) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// docker runs the docker CLI against the server (its own empty config:
// no stored logins, no plugins; the classic builder).
func (s *apiServer) docker(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	// A client that hangs (a login prompt) fails the test, not the run.
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/local/bin/docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.host, "DOCKER_CONFIG="+s.config())
	if !s.buildkit {
		cmd.Env = append(cmd.Env, "DOCKER_BUILDKIT=0")
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("docker %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// mustDocker is docker that must succeed; it returns stdout.
func (s *apiServer) mustDocker(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.docker("", args...)
	if code != 0 {
		s.t.Fatalf("docker %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// plugin installs the docker CLI plugin bin as name in the server's
// docker config.
func (s *apiServer) plugin(name, bin string) {
	dir := filepath.Join(s.config(), "cli-plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, name)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *apiServer) config() string {
	d := filepath.Join(filepath.Dir(s.sock), "docker-config")
	os.MkdirAll(d, 0o700)
	return d
}

// hoist runs the hoist CLI on the server's root.
func (s *apiServer) hoist(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.bin, append([]string{"--root", s.root}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("hoist %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// apiSetup is a server with busybox imported through the API.
func apiSetup(t *testing.T) *apiServer {
	root := ctrRoot(t)
	s := startAPIServer(t, hoistBinary(t), root)
	s.mustDocker("import", busyboxRootTar(t), "busybox:latest")
	return s
}

// The docker CLI's image verbs through hoist serve: version negotiation,
// import, images with filters, tag, inspect -f, history, rmi, prune, df.
func TestAPIDockerCLIImages(t *testing.T) {
	s := apiSetup(t)
	out := s.mustDocker("version", "--format", "{{.Server.Platform.Name}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Client.APIVersion}}")
	if out != "hoist 1.57 1.41 1.50\n" {
		t.Fatalf("version: %q", out)
	}
	s.mustDocker("tag", "busybox", "example.com/team/tool:1")
	s.mustDocker("tag", "busybox", "tool:2")
	out = s.mustDocker("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=*/*/tool*")
	if out != "example.com/team/tool:1\n" {
		t.Fatalf("images reference=*/*/tool*: %q", out)
	}
	out = s.mustDocker("images", "--format", "{{.Repository}}:{{.Tag}}", "tool")
	if out != "tool:2\n" {
		t.Fatalf("images tool: %q", out)
	}
	id := strings.TrimSpace(s.mustDocker("inspect", "-f", "{{.Id}}", "busybox"))
	if !strings.HasPrefix(id, "sha256:") || strings.TrimSpace(s.hoist("inspect", "-f", "{{.Id}}", "tool:2")) != id {
		t.Fatalf("inspect: %q", id)
	}
	if out := s.mustDocker("history", "--format", "{{.CreatedBy}}|{{.Comment}}", "busybox"); out != "|Imported from -\n" {
		t.Fatalf("history: %q", out)
	}
	out = s.mustDocker("rmi", "tool:2")
	if out != "Untagged: tool:2\n" {
		t.Fatalf("rmi: %q", out)
	}
	_, errOut, code := s.docker("", "rmi", "nosuch:1")
	if code == 0 || !strings.Contains(errOut, "Error response from daemon: No such image: nosuch:1") {
		t.Fatalf("rmi nosuch: %d %q", code, errOut)
	}
	// A dangling image goes with image prune.
	s.mustDocker("import", busyboxRootTar(t))
	if out := s.mustDocker("images", "-q", "--filter", "dangling=true"); len(strings.Fields(out)) != 1 {
		t.Fatalf("dangling: %q", out)
	}
	out = s.mustDocker("image", "prune", "-f")
	if !strings.Contains(out, "deleted: sha256:") || !strings.Contains(out, "Total reclaimed space:") {
		t.Fatalf("image prune: %q", out)
	}
	out = s.mustDocker("system", "df", "--format", "{{.Type}} {{.TotalCount}}")
	if !strings.Contains(out, "Images 1\n") || !strings.Contains(out, "Containers 0\n") {
		t.Fatalf("system df: %q", out)
	}
	out = s.mustDocker("info", "--format", "{{.Images}} {{.Driver}} {{.OSType}}")
	if out != "1 overlay2 linux\n" {
		t.Fatalf("info: %q", out)
	}
}

// The docker CLI's container verbs through hoist serve, on the same
// containers as hoist's own CLI; killing the server touches none.
func TestAPIDockerCLIContainers(t *testing.T) {
	s := apiSetup(t)
	out, errOut, code := s.docker("", "run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	if code != 3 || out != "out\n" || errOut != "err\n" {
		t.Fatalf("run --rm: %d %q %q", code, out, errOut)
	}
	out, _, code = s.docker("piped\n", "run", "-i", "--rm", "--network", "none", "busybox", "cat")
	if code != 0 || out != "piped\n" {
		t.Fatalf("run -i: %d %q", code, out)
	}
	// A command not found: 127, and --rm removes the container that did
	// not start (the client waits for its removal).
	_, errOut, code = s.docker("", "run", "--rm", "--network", "none", "busybox", "nosuchcmd")
	if code != 127 || !strings.Contains(errOut, "executable file not found") {
		t.Fatalf("run --rm nosuchcmd: %d %q", code, errOut)
	}
	if out := s.mustDocker("ps", "-aq"); out != "" {
		t.Fatalf("run --rm left %q", out)
	}
	id := strings.TrimSpace(s.mustDocker("run", "-d", "--name", "web", "--network", "none", "busybox", "sh", "-c", "echo started; exec sleep 1000"))
	testutil.WaitFor(t, "the container's first line", func() bool {
		out, _, _ := s.docker("", "logs", "web")
		return out == "started\n"
	})
	if out := s.hoist("ps", "--format", "{{.ID}} {{.Names}} {{.State}}"); out != id[:12]+" web running\n" {
		t.Fatalf("hoist ps sees %q", out)
	}
	if out, _, code := s.docker("", "exec", "web", "sh", "-c", "echo in; exit 5"); code != 5 || out != "in\n" {
		t.Fatalf("exec: %d %q", code, out)
	}
	// cp both ways
	src := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(src, []byte("from host\n"), 0o644)
	s.mustDocker("cp", src, "web:/tmp/")
	if out := s.mustDocker("exec", "web", "cat", "/tmp/f.txt"); out != "from host\n" {
		t.Fatalf("cp in: %q", out)
	}
	dst := filepath.Join(t.TempDir(), "passwd")
	s.mustDocker("cp", "web:/etc/passwd", dst)
	if b, _ := os.ReadFile(dst); !strings.HasPrefix(string(b), "root:x:0:0:") {
		t.Fatalf("cp out: %q", b)
	}
	if out := s.mustDocker("diff", "web"); !strings.Contains(out, "A /tmp/f.txt") {
		t.Fatalf("diff: %q", out)
	}
	if out := s.mustDocker("inspect", "-f", "{{.State.Status}} {{.Name}} {{.Config.Image}}", "web"); out != "running /web busybox\n" {
		t.Fatalf("inspect: %q", out)
	}
	// The server goes; the container stays; a new server sees it.
	s.kill()
	if out := s.hoist("ps", "--format", "{{.Names}} {{.State}}"); out != "web running\n" {
		t.Fatalf("after the server was killed: %q", out)
	}
	s.start()
	// A container of hoist's own CLI is docker's too.
	s.hoist("create", "--name", "fromcli", "--network", "none", "busybox", "true")
	if out := s.mustDocker("ps", "-a", "--format", "{{.Names}} {{.State}}"); out != "fromcli created\nweb running\n" {
		t.Fatalf("docker ps -a: %q", out)
	}
	s.mustDocker("stop", "-t", "1", "web")
	if out := s.mustDocker("ps", "-a", "--filter", "name=web", "--format", "{{.Status}}"); !strings.HasPrefix(out, "Exited (137)") && !strings.HasPrefix(out, "Exited (143)") {
		t.Fatalf("after stop: %q", out)
	}
	s.mustDocker("rm", "web", "fromcli")
	if out := s.hoist("ps", "-aq"); out != "" {
		t.Fatalf("after rm: %q", out)
	}
	_, errOut, code = s.docker("", "logs", "nosuch")
	if code == 0 || !strings.Contains(errOut, "No such container: nosuch") {
		t.Fatalf("logs nosuch: %d %q", code, errOut)
	}
}

// docker build, save and load through hoist serve.
func TestAPIDockerCLIBuildSaveLoad(t *testing.T) {
	s := apiSetup(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nARG X=def\nCOPY f.txt /f.txt\nRUN echo \"x=$X\" >> /f.txt\nLABEL built=yes\nCMD [\"cat\", \"/f.txt\"]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "f.txt"), []byte("from context\n"), 0o644)
	out := s.mustDocker("build", "-t", "built:1", "--build-arg", "X=given", "--label", "by=test", dir)
	if !regexp.MustCompile(`Successfully built [0-9a-f]{12}\nSuccessfully tagged built:1\n`).MatchString(out) {
		t.Fatalf("build: %q", out)
	}
	if out, _, code := s.docker("", "run", "--rm", "--network", "none", "built:1"); code != 0 || out != "from context\nx=given\n" {
		t.Fatalf("run built:1: %d %q", code, out)
	}
	if out := s.mustDocker("inspect", "-f", "{{.Config.Labels.built}} {{.Config.Labels.by}}", "built:1"); out != "yes test\n" {
		t.Fatalf("labels: %q", out)
	}
	id := strings.TrimSpace(s.mustDocker("build", "-q", dir))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("build -q: %q", id)
	}
	_, errOut, code := s.docker("", "build", "-t", "bad:1", "-f", "Nope", dir)
	if code == 0 || errOut == "" {
		t.Fatalf("build with a missing Dockerfile: %d %q", code, errOut)
	}
	// A failing RUN: its exit code is the error message's, which docker's
	// CLI exits with.
	os.WriteFile(filepath.Join(dir, "Dockerfile.bad"), []byte("FROM busybox\nRUN exit 4\n"), 0o644)
	_, errOut, code = s.docker("", "build", "-f", filepath.Join(dir, "Dockerfile.bad"), dir)
	if code != 4 || !strings.Contains(errOut, "returned a non-zero code: 4") {
		t.Fatalf("build with a failing RUN: %d %q", code, errOut)
	}
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	s.mustDocker("save", "-o", tarPath, "built:1")
	s.mustDocker("rmi", "built:1")
	if out := s.mustDocker("load", "-i", tarPath); out != "Loaded image: built:1\n" {
		t.Fatalf("load: %q", out)
	}
	if out, _, code := s.docker("", "run", "--rm", "--network", "none", "built:1"); code != 0 || out != "from context\nx=given\n" {
		t.Fatalf("run loaded built:1: %d %q", code, out)
	}
}

// docker push and pull through hoist serve against hoist's registry.
func TestAPIDockerCLIPushPull(t *testing.T) {
	s := apiSetup(t)
	addr := serveRegistryBinary(t, s.bin)
	ref := addr + "/team/bb:1"
	s.mustDocker("tag", "busybox", ref)
	out := s.mustDocker("push", ref)
	if !strings.Contains(out, "The push refers to repository ["+addr+"/team/bb]") || !regexp.MustCompile(`1: digest: sha256:[0-9a-f]{64} size: \d+`).MatchString(out) {
		t.Fatalf("push: %q", out)
	}
	s.mustDocker("rmi", ref)
	out = s.mustDocker("pull", ref)
	if !strings.Contains(out, "Status: Downloaded newer image for "+ref) && !strings.Contains(out, "Status: Image is up to date for "+ref) {
		t.Fatalf("pull: %q", out)
	}
	if out, _, code := s.docker("", "run", "--rm", "--network", "none", ref, "echo", "pulled"); code != 0 || out != "pulled\n" {
		t.Fatalf("run pulled: %d %q", code, out)
	}
	_, errOut, code := s.docker("", "pull", addr+"/team/nosuch:1")
	if code == 0 || !strings.Contains(errOut, "Error response from daemon: manifest for "+addr+"/team/nosuch:1 not found") {
		t.Fatalf("pull nosuch: %d %q", code, errOut)
	}
}

// ptySession runs docker in a new terminal, types each input once the
// output so far shows its prompt, and returns the output and exit code.
func (s *apiServer) ptySession(args []string, steps [][2]string) (string, int) {
	t := s.t
	t.Helper()
	cmd := exec.Command("/usr/local/bin/docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.host, "DOCKER_CONFIG="+s.config(), "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 33, Cols: 101})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mu bytes.Buffer
	got := make(chan []byte, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				got <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				close(got)
				return
			}
		}
	}()
	deadline := time.After(testutil.Patience)
	waitFor := func(want string) {
		for !strings.Contains(mu.String(), want) {
			select {
			case b, ok := <-got:
				if !ok {
					t.Fatalf("%v ended before %q: %q", args, want, mu.String())
				}
				mu.Write(b)
			case <-deadline:
				t.Fatalf("%v: no %q in %q", args, want, mu.String())
			}
		}
	}
	for _, st := range steps {
		waitFor(st[0])
		f.Write([]byte(st[1]))
	}
	for b := range got {
		mu.Write(b)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return mu.String(), ee.ExitCode()
	}
	return mu.String(), 0
}

// Interactive run -it and exec -it through a pseudo-terminal: the
// container's terminal has docker's size, the input reaches it, the exit
// status comes back.
func TestAPIDockerCLIInteractive(t *testing.T) {
	s := apiSetup(t)
	out, code := s.ptySession([]string{"run", "-it", "--rm", "--network", "none", "busybox", "sh"},
		[][2]string{{"# ", "stty size; echo $((6*7))\r"}, {"42", "exit 4\r"}})
	if code != 4 || !strings.Contains(out, "33 101") || !strings.Contains(out, "42") {
		t.Fatalf("run -it: %d %q", code, out)
	}
	s.mustDocker("run", "-d", "--name", "box", "--network", "none", "busybox", "sleep", "1000")
	out, code = s.ptySession([]string{"exec", "-it", "box", "sh"},
		[][2]string{{"# ", "tty; echo $((6*8))\r"}, {"48", "exit 3\r"}})
	if code != 3 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "48") {
		t.Fatalf("exec -it: %d %q", code, out)
	}
}

// hoist serve is long-lived: no process orphaned under it may stay its
// zombie. An interactive exec made it a child subreaper once (so that it
// could wait for the exec's process), after which every orphan below it
// was reparented to it and never reaped: here a job left behind by an
// exec -it shell (the container shares the host's pid namespace, so the
// job's orphaning walks up to the server's side) and a later exec -d's
// process (orphaned by its runtime, in any container). Each is killed and
// must end reaped or, at least, not the server's zombie.
func TestAPIServeLeavesNoZombies(t *testing.T) {
	s := apiSetup(t)
	serve := s.cmd.Process.Pid
	s.mustDocker("run", "-d", "--name", "box", "--pid", "host", "--network", "none", "busybox", "sleep", "1000")
	out, code := s.ptySession([]string{"exec", "-it", "box", "sh"},
		[][2]string{{"# ", "sleep 1001 & echo job:$!:$((40+2))\r"}, {":42", "exit 5\r"}})
	m := regexp.MustCompile(`job:(\d+):42`).FindStringSubmatch(out)
	if code != 5 || m == nil {
		t.Fatalf("exec -it: %d %q", code, out)
	}
	var job int
	fmt.Sscan(m[1], &job)
	s.mustDocker("exec", "-d", "box", "sh", "-c", "echo $$ >/tmp/d.pid; exec sleep 1002")
	var detached int
	testutil.WaitFor(t, "the exec -d's pid file", func() bool {
		out, _, _ := s.docker("", "exec", "box", "cat", "/tmp/d.pid")
		_, err := fmt.Sscan(out, &detached)
		return err == nil
	})
	for _, pid := range []int{job, detached} {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill orphan %d: %v", pid, err)
		}
	}
	for _, pid := range []int{job, detached} {
		testutil.WaitFor(t, fmt.Sprintf("orphan %d to be no zombie of hoist serve (%d)", pid, serve), func() bool {
			return proc.Parent(pid) != serve
		})
	}
	testutil.WaitFor(t, "hoist serve to have no zombie children", func() bool {
		return len(proc.ZombieChildren(serve)) == 0
	})
}

// The Go SDK (github.com/moby/moby/client) drives hoist serve: it
// negotiates the version, creates, starts and waits for a container,
// reads its logs, execs in it and removes it.
func TestAPIGoSDK(t *testing.T) {
	s := apiSetup(t)
	ctx := context.Background()
	c, err := client.New(client.WithHost(s.host))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil || ping.APIVersion != "1.57" || ping.OSType != "linux" || ping.BuilderVersion != "1" {
		t.Fatalf("ping: %+v %v", ping, err)
	}
	cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "sdk",
		Config:     &container.Config{Image: "busybox", Cmd: []string{"sh", "-c", "echo ready; echo oops >&2; exec sleep 1000"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the log line", func() bool {
		rc, err := c.ContainerLogs(ctx, cr.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var o, e bytes.Buffer
		stdcopy.StdCopy(&o, &e, rc)
		return o.String() == "ready\n" && e.String() == "oops\n"
	})
	ex, err := c.ExecCreate(ctx, cr.ID, client.ExecCreateOptions{Cmd: []string{"sh", "-c", "echo $((2+3)); exit 7"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	at, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var o bytes.Buffer
	stdcopy.StdCopy(&o, io.Discard, at.Reader)
	at.Close()
	xi, err := c.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil || o.String() != "5\n" || xi.ExitCode != 7 || xi.Running {
		t.Fatalf("exec: %q %+v %v", o.String(), xi, err)
	}
	wait := c.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	if _, err := c.ContainerKill(ctx, cr.ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-wait.Result:
		if res.StatusCode != 137 {
			t.Fatalf("wait: %+v", res)
		}
	case err := <-wait.Error:
		t.Fatal(err)
	}
	if _, err := c.ContainerRemove(ctx, cr.ID, client.ContainerRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ContainerInspect(ctx, "sdk", client.ContainerInspectOptions{}); err == nil || !strings.Contains(err.Error(), "No such container: sdk") {
		t.Fatalf("inspect after rm: %v", err)
	}
}

// Bad requests get docker's 4xx answers; the server keeps serving.
func TestAPIBadInput(t *testing.T) {
	s := apiSetup(t)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.sock)
	}}}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://hoist"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m struct{ Message string }
		b, _ := io.ReadAll(resp.Body)
		json.Unmarshal(b, &m)
		return resp.StatusCode, m.Message
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"GET", "/v9.99/version", "", 400, "client version 9.99 is too new. Maximum supported API version is 1.57"},
		{"GET", "/v1.12/version", "", 400, "client version 1.12 is too old. Minimum supported API version is 1.41"},
		{"POST", "/v1.50/containers/create", `{"Image": "busybox", "Cmd": [`, 400, "invalid JSON"},
		{"POST", "/v1.50/containers/create", `{"Image": "nosuch:1"}`, 404, "No such image: nosuch:1"},
		{"GET", "/v1.50/containers/nosuch/json", "", 404, "No such container: nosuch"},
		{"POST", "/v1.50/containers/nosuch/start", "", 404, "No such container: nosuch"},
		{"GET", "/v1.50/images/nosuch:1/json", "", 404, "No such image: nosuch:1"},
		{"GET", "/v1.50/containers/json?filters=notjson", "", 400, "invalid filter"},
		{"GET", "/v1.50/nosuch/endpoint", "", 404, "page not found"},
	} {
		status, msg := call(tc.method, tc.path, tc.body)
		if status != tc.status || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, status, msg, tc.status, tc.msg)
		}
	}
	// An archive path with ".." is refused; the file outside stays unread.
	s.mustDocker("create", "--name", "c1", "--network", "none", "busybox", "true")
	for _, p := range []string{"/../../../../etc/shadow", "/tmp/../../etc/hostname"} {
		if status, msg := call("GET", "/v1.50/containers/c1/archive?path="+p, ""); status != 400 || !strings.Contains(msg, "'..'") {
			t.Errorf("archive GET %s: %d %q", p, status, msg)
		}
		if status, _ := call("PUT", "/v1.50/containers/c1/archive?path="+p, "x"); status != 400 {
			t.Errorf("archive PUT %s: %d", p, status)
		}
	}
	if status, msg := call("POST", "/v1.50/containers/c1/exec", `{"Cmd":["true"]}`); status != 409 || !strings.Contains(msg, "is not running") {
		t.Errorf("exec in a stopped container: %d %q", status, msg)
	}
	if status, _ := call("GET", "/_ping", ""); status != 200 {
		t.Errorf("the server stopped answering: %d", status)
	}
	if fi, err := os.Stat(s.sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode: %v %v", fi.Mode(), err)
	}
	if out := s.hoist("system", "check"); !strings.Contains(out, "No problems found.") {
		t.Errorf("system check: %s", out)
	}
	// A network address needs --tlsverify.
	out, err := exec.Command(s.bin, "--root", s.root, "serve", "--host", "tcp://0.0.0.0:0").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), "refusing to listen on tcp://0.0.0.0:0 without --tlsverify") {
		t.Errorf("serve on 0.0.0.0 without TLS: %v %s", err, out)
	}
	// A second server on the same socket is refused.
	out, err = exec.Command(s.bin, "--root", s.root, "serve", "--host", s.host).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "a server answers there") {
		t.Errorf("second server: %v %s", err, out)
	}
}

// docker login, push, pull, search and logout through hoist serve against
// a registry with htpasswd: the login is checked by POST /auth and kept by
// the docker CLI alone; each request carries it (X-Registry-Auth).
func TestAPIDockerCLILogin(t *testing.T) {
	s := apiSetup(t)
	st, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host := testRegistryOn(t, st, htpasswdAuth(t, "alice", "s3cret"))
	ref := host + "/priv/bb:1"
	_, errOut, code := s.docker("wrong\n", "login", "-u", "alice", "--password-stdin", host)
	if code == 0 || !strings.Contains(errOut, "Error response from daemon") || !strings.Contains(errOut, "unauthorized") {
		t.Fatalf("login with a wrong password: %d %q", code, errOut)
	}
	if out, errOut, code := s.docker("s3cret\n", "login", "-u", "alice", "--password-stdin", host); code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: %d %q %q", code, out, errOut)
	}
	// The server stored nothing: only the client's config has the login.
	if b, err := os.ReadFile(filepath.Join(s.config(), "config.json")); err != nil || !strings.Contains(string(b), host) {
		t.Fatalf("the client's config: %v %s", err, b)
	}
	s.mustDocker("tag", "busybox", ref)
	if out := s.mustDocker("push", ref); !strings.Contains(out, "1: digest: sha256:") {
		t.Fatalf("push: %q", out)
	}
	s.mustDocker("rmi", ref)
	s.mustDocker("pull", ref)
	if out := s.mustDocker("search", "--format", "{{.Name}}", host+"/priv"); !strings.Contains(out, "priv/bb") {
		t.Fatalf("search: %q", out)
	}
	s.mustDocker("logout", host)
	s.mustDocker("rmi", ref)
	if _, errOut, code := s.docker("", "pull", ref); code == 0 || !strings.Contains(errOut, "unauthorized") {
		t.Fatalf("pull after logout: %d %q", code, errOut)
	}
}

// A JSON body over the server's limit (8 MiB; dockerd has none) is a 400
// naming the limit, and the server keeps serving. A client that goes away
// in the middle of a streamed body (load) leaves nothing half-written:
// no image, no partial blob or layer, and `system check` finds no
// problem.
func TestAPIBodyLimitsAndGoneClient(t *testing.T) {
	s := apiSetup(t)
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("unix", s.sock)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.sock)
	}}}
	big := `{"Image": "busybox", "Labels": {"x": "` + strings.Repeat("a", 9<<20) + `"}}`
	resp, err := hc.Post("http://hoist/v1.50/containers/create", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "request body too large (over 8388608 bytes)") {
		t.Fatalf("oversized create: %d %s", resp.StatusCode, b)
	}
	if out := s.hoist("ps", "-aq"); out != "" {
		t.Fatalf("a container from the oversized create: %q", out)
	}

	// An image the store lacks, as docker save writes it: a layer of
	// 4 MiB that does not compress.
	layer := t.TempDir()
	noise := make([]byte, 4<<20)
	for i := range noise {
		noise[i] = byte(i*7919 + i>>8*31)
	}
	if err := os.WriteFile(filepath.Join(layer, "noise"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "layer.tar")
	if out, err := exec.Command("tar", "-C", layer, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	s.hoist("import", tarPath, "big:1")
	saved := filepath.Join(t.TempDir(), "big.tar")
	s.hoist("save", "-o", saved, "big:1")
	s.hoist("rmi", "big:1")
	before := s.hoist("images", "-a", "-q", "--no-trunc")
	archive, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	// Half the archive is sent; once the server reports loading the
	// layer, the client is gone.
	c := dial()
	fmt.Fprintf(c, "POST /v1.50/images/load HTTP/1.1\r\nHost: hoist\r\nContent-Type: application/x-tar\r\nContent-Length: %d\r\n\r\n", len(archive))
	c.Write(archive[:len(archive)/2])
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the load's response ended before any progress: %v", err)
		}
		if strings.Contains(line, "Loading layer") {
			break
		}
	}
	c.Close()
	// The server drops what it wrote (no fixed wait: until the store's
	// scratch places are empty), and the store is whole.
	scratch := []string{filepath.Join(s.root, "content", "ingest"), filepath.Join(s.root, "layers", "tmp")}
	testutil.WaitFor(t, "the interrupted load to leave no scratch file", func() bool {
		for _, d := range scratch {
			if es, _ := os.ReadDir(d); len(es) > 0 {
				return false
			}
		}
		return true
	})
	if out := s.hoist("images", "-a", "-q", "--no-trunc"); out != before {
		t.Fatalf("images after the interrupted load: %q, before %q", out, before)
	}
	if out := s.hoist("system", "check"); !strings.Contains(out, "No problems found.") {
		t.Fatalf("system check after the interrupted load: %s", out)
	}
	// The server still serves; the whole archive loads.
	if out := s.mustDocker("load", "-i", saved); !strings.Contains(out, "Loaded image: big:1") {
		t.Fatalf("load: %q", out)
	}
}
