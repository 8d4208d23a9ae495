package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/apiserver"
)

// runSDKScript runs a client script (args) against the server with
// DOCKER_HOST set, a temporary directory of its own, and extra env; it
// must exit 0 and print exactly the
// "OK <step>" lines of want, in order. Its whole output and the
// server's log are the failure's report.
func (s *apiServer) runSDKScript(want []string, env []string, args ...string) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.host, "DOCKER_CONFIG="+s.config(),
		"TMPDIR="+t.TempDir(), "PYTHONDONTWRITEBYTECODE=1")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var oks []string
	for _, l := range strings.Split(out.String(), "\n") {
		if step, ok := strings.CutPrefix(l, "OK "); ok {
			oks = append(oks, step)
		}
	}
	if err != nil || !slices.Equal(oks, want) {
		t.Fatalf("%s: %v\nsteps %q, want %q\n%s\nserver's log:\n%s", strings.Join(args, " "), err, oks, want, out.String(), s.logs.String())
	}
	t.Logf("%s", out.String())
}

// dockerPy is a python3 that imports docker (docker-py).
type dockerPy struct{ python, version string }

// dockerPythons are the python3 interpreters that import docker, one per
// docker package: Debian's python3-docker (5.0.3 in bookworm) at
// /usr/bin/python3, and the python3 on PATH when its docker is another
// (pip's 7.x). It skips the test when there is none.
func dockerPythons(t *testing.T) []dockerPy {
	var pys []dockerPy
	seen := map[string]bool{}
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		out, err := exec.Command(py, "-c", "import docker; print(docker.__version__, docker.__file__)").Output()
		f := strings.Fields(string(out))
		if err != nil || len(f) != 2 || seen[f[1]] {
			continue
		}
		seen[f[1]] = true
		pys = append(pys, dockerPy{python: py, version: f[0]})
	}
	if len(pys) == 0 {
		t.Skip("no python3 imports docker (apt-get install python3-docker)")
	}
	return pys
}

// docker-py, the Docker SDK for Python, drives hoist serve: the script
// testdata/sdk/docker_py.py (system calls, images, a detached container's
// log stream, exec_run plain and demuxed, archives, stats, top, wait,
// run's output and ContainerError, a classic build with build args and
// labels and a failing one, volumes, networks, events between since and
// until, attach with logs, exec with stdin on its socket, commit,
// save/load, push/pull with hoist's registry, NotFound and 409s). It runs
// with each docker-py there is (Debian's python3-docker first), at the
// version it negotiates and at the oldest the server speaks, inside a
// network namespace of the test's own (its networks).
func TestAPIPythonSDK(t *testing.T) {
	pys := dockerPythons(t)
	if !inNetNS(t, "TestAPIPythonSDK") {
		return
	}
	s := apiSetup(t)
	reg := serveRegistryBinary(t, s.bin)
	script, err := filepath.Abs("testdata/sdk/docker_py.py")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"system", "images", "logs stream", "exec_run", "archive", "stats", "top", "conflict", "wait remove",
		"run", "build", "volumes", "networks", "events", "container verbs", "image verbs", "push pull", "not found", "done"}
	for _, py := range pys {
		for _, v := range []string{"auto", apiserver.MinAPIVersion} {
			t.Run("docker-py-"+py.version+"-api-"+v, func(sub *testing.T) {
				s.t = sub
				defer func() { s.t = t }()
				s.runSDKScript(want, []string{"REGISTRY=" + reg, "DOCKER_API_VERSION=" + v}, py.python, script)
				if out := s.hoist("ps", "-aq"); out != "" {
					sub.Fatalf("the script left containers: %q", out)
				}
			})
		}
	}
}

// dockerode is dockerode's node_modules, installed with npm once into
// the user's cache directory; it skips the test when node or npm is
// missing or npm cannot fetch it (offline).
func dockerode(t *testing.T, version string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed")
	}
	dir, unlock := lockTestCache(t, "dockerode")
	defer unlock()
	modules := filepath.Join(dir, "dockerode-"+version, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "dockerode", "package.json")); err == nil {
		return modules
	}
	tmp, err := os.MkdirTemp(dir, "dockerode-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// No install scripts: ssh2's optional native helpers are not needed
	// on a unix socket.
	out, err := exec.CommandContext(ctx, npm, "install", "--prefix", tmp, "--no-audit", "--no-fund", "--ignore-scripts",
		"--fetch-retries=1", "dockerode@"+version).CombinedOutput()
	if err != nil {
		t.Skipf("npm could not install dockerode@%s (offline?): %v\n%s", version, err, out)
	}
	final := filepath.Dir(modules)
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	return modules
}

// dockerode, the Docker SDK most used from Node.js, drives hoist serve:
// the script testdata/sdk/dockerode.js pings, creates a container,
// attaches to it before its start and demuxes its output, waits for it,
// reads its logs, runs an exec with stdin, stdout and stderr on the
// hijacked connection (demuxed with docker-modem's demuxStream), lists
// and inspects images, builds one (and a failing one, whose error and
// exit code end the stream), and checks the status codes of missing
// objects and conflicts.
func TestAPINodeSDK(t *testing.T) {
	modules := dockerode(t, "5.0.1")
	s := apiSetup(t)
	script, err := filepath.Abs("testdata/sdk/dockerode.js")
	if err != nil {
		t.Fatal(err)
	}
	s.runSDKScript([]string{"ping", "container", "exec", "images", "build", "errors", "done"},
		[]string{"NODE_PATH=" + modules}, "node", script)
	if out := s.hoist("ps", "-aq"); out != "" {
		t.Fatalf("the script left containers: %q", out)
	}
}
