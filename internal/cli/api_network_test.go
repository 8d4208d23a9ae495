package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hoistproject/hoist/internal/testutil"
)

// The network endpoints through hoist serve with the docker CLI, inside a
// network namespace of the test's own: create with a subnet and labels,
// ls with filters, inspect, run with --network/--network-alias/--ip (the
// create request's NetworkingConfig), a name resolved on the network,
// create on two networks at once, connect and disconnect, rm of a network
// in use refused, prune.
func TestAPINetworks(t *testing.T) {
	if !inNetNS(t, "TestAPINetworks") {
		return
	}
	s := apiSetup(t)
	t.Cleanup(func() {
		s.docker("", "rm", "-f", "srv", "multi")
		s.docker("", "network", "prune", "-f")
	})
	n1 := strings.TrimSpace(s.mustDocker("network", "create", "--subnet", "10.88.0.0/24", "--label", "team=a", "n1"))
	if len(n1) != 64 {
		t.Fatalf("network create: %q", n1)
	}
	s.mustDocker("network", "create", "n2")
	if out := s.mustDocker("network", "ls", "--filter", "label=team=a", "--format", "{{.Name}} {{.Driver}}"); out != "n1 bridge\n" {
		t.Fatalf("network ls label=team=a: %q", out)
	}
	if out := s.mustDocker("network", "ls", "--format", "{{.Name}}"); out != "bridge\nhost\nn1\nn2\nnone\n" {
		t.Fatalf("network ls: %q", out)
	}
	if out := s.mustDocker("network", "inspect", "-f", "{{.Id}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.team}}", "n1"); out != n1+" 10.88.0.0/24 10.88.0.1 a\n" {
		t.Fatalf("network inspect: %q", out)
	}
	_, errOut, code := s.docker("", "network", "create", "n1")
	if code == 0 || !strings.Contains(errOut, "Error response from daemon: network with name n1 already exists") {
		t.Fatalf("network create twice: %d %q", code, errOut)
	}

	serve := "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"
	s.mustDocker("run", "-d", "--name", "srv", "--label", "x=1", "--label", "y=2", "--hostname", "srv", "--network", "n1", "--network-alias", "web", "--ip", "10.88.0.50", "busybox", "sh", "-c", serve)
	out := s.mustDocker("inspect", "-f", `{{with index .NetworkSettings.Networks "n1"}}{{.IPAddress}} {{.IPAMConfig.IPv4Address}} {{index .Aliases 0}}{{end}}`, "srv")
	if out != "10.88.0.50 10.88.0.50 web\n" {
		t.Fatalf("inspect srv: %q", out)
	}
	script := shGet + "for i in $(seq 50); do get web && exit 0; sleep 0.1; done; exit 1"
	if out := s.mustDocker("run", "--rm", "--network", "n1", "busybox", "sh", "-c", script); out != "srv\n" {
		t.Fatalf("GET web on n1: %q", out)
	}

	// Two networks at one create (API 1.44's EndpointsConfig of several).
	s.mustDocker("create", "--name", "multi", "--label", "x=1", "--network", "n1", "--network", "n2", "busybox", "true")
	// Label filters all hold (compose finds a service's containers so).
	if out := s.mustDocker("ps", "-a", "--filter", "label=x=1", "--filter", "label=y=2", "--format", "{{.Names}}"); out != "srv\n" {
		t.Fatalf("ps with two label filters: %q", out)
	}
	if out := s.mustDocker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "multi"); out != "n1 n2 \n" {
		t.Fatalf("inspect multi: %q", out)
	}
	s.mustDocker("network", "connect", "--alias", "srv2", "n2", "srv")
	// As docker: a network lists the containers running on it (multi was
	// only created).
	if out := strings.Fields(s.mustDocker("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", "n2")); !slices.Equal(slices.Sorted(slices.Values(out)), []string{"srv"}) {
		t.Fatalf("network inspect n2 containers: %q", out)
	}
	_, errOut, code = s.docker("", "network", "rm", "n2")
	if code == 0 || !strings.Contains(errOut, "has active endpoints") {
		t.Fatalf("network rm in use: %d %q", code, errOut)
	}
	s.mustDocker("network", "disconnect", "n2", "srv")
	s.mustDocker("rm", "multi")
	_, errOut, code = s.docker("", "network", "disconnect", "n2", "srv")
	if code == 0 || !strings.Contains(errOut, "is not connected to network n2") {
		t.Fatalf("disconnect twice: %d %q", code, errOut)
	}
	_, errOut, code = s.docker("", "network", "inspect", "nosuch")
	if code == 0 || !strings.Contains(errOut, "network nosuch not found") {
		t.Fatalf("inspect nosuch: %d %q", code, errOut)
	}
	// A create on a network that does not exist makes nothing.
	_, errOut, code = s.docker("", "create", "--name", "lost", "--network", "n1", "--network", "nosuch", "busybox", "true")
	if code == 0 || !strings.Contains(errOut, "network nosuch not found") {
		t.Fatalf("create on nosuch: %d %q", code, errOut)
	}
	if out := s.hoist("ps", "-a", "--format", "{{.Names}}"); out != "srv\n" {
		t.Fatalf("after the failed create: %q", out)
	}
	s.mustDocker("rm", "-f", "srv")
	if out := s.mustDocker("network", "prune", "-f"); !strings.Contains(out, "Deleted Networks:\nn1\nn2\n") {
		t.Fatalf("network prune: %q", out)
	}
	if out := s.hoist("network", "ls", "--format", "{{.Name}}"); out != "bridge\nhost\nnone\n" {
		t.Fatalf("network ls after prune: %q", out)
	}
}

// lockTestCache is the directory of the tools tests keep in the user's
// cache (hoist-test), locked for name until unlock: one build of a tool
// at a time (parallel test binaries). It skips the test when there is no
// cache directory.
func lockTestCache(t *testing.T, name string) (dir string, unlock func()) {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("%s: no cache directory: %v", name, err)
	}
	dir = filepath.Join(cache, "hoist-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		t.Fatal(err)
	}
	return dir, func() { lock.Close() }
}

// composePlugin is docker compose v5.6.0 built from the Go module proxy
// (or the module cache) once and kept in the user's cache directory; it
// skips the test when it cannot be built (offline, no go command).
func composePlugin(t *testing.T) string {
	return goPlugin(t, "docker-compose", "github.com/docker/compose/v5", "v5.6.0", "./cmd", "")
}

// buildxPlugin is docker buildx v0.30.0, built as composePlugin is, with
// its version stamped (compose build asks for buildx 0.17 or later).
func buildxPlugin(t *testing.T) string {
	return goPlugin(t, "docker-buildx", "github.com/docker/buildx", "v0.30.0", "./cmd/buildx",
		"-X github.com/docker/buildx/version.Version=v0.30.0")
}

// goPlugin builds the docker CLI plugin name from module@version's
// package pkg once (a writable copy of the module, with ldflags) and keeps
// it in the user's cache directory; it skips the test when it cannot be
// built (offline, no go command).
func goPlugin(t *testing.T, name, module, version, pkg, ldflags string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("%s is built from source: no go command", name)
	}
	dir, unlock := lockTestCache(t, name)
	defer unlock()
	bin := filepath.Join(dir, name+"-"+version)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	out, err := exec.Command(goBin, "mod", "download", "-json", module+"@"+version).Output()
	if err != nil {
		t.Skipf("%s %s could not be downloaded (offline?): %v", module, version, err)
	}
	var modDir string
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ": "); ok && k == `"Dir"` {
			modDir = strings.Trim(v, `",`)
		}
	}
	src := t.TempDir()
	if out, err := exec.Command("cp", "-r", modDir+"/.", src).CombinedOutput(); err != nil {
		t.Fatalf("copy of the %s module: %v %s", module, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", src).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}
	tmp := bin + ".tmp"
	build := exec.Command(goBin, "build", "-mod=mod", "-ldflags", ldflags, "-o", tmp, pkg)
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		os.Remove(tmp)
		t.Skipf("%s %s could not be built (offline?): %v\n%s", module, version, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// docker compose through hoist serve, in a network namespace of the
// test's own: a two-service project (a busybox httpd serving a file from
// a named volume, and a client fetching it by service name) brought up
// with up -d, seen with ps and logs, entered with exec, and taken down
// with down -v, which leaves no container, network or volume.
func TestAPICompose(t *testing.T) {
	if !inNetNS(t, "TestAPICompose") {
		return
	}
	plugin := composePlugin(t)
	s := apiSetup(t)
	s.plugin("docker-compose", plugin)
	dir := t.TempDir()
	project := `name: hoisttest
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo served-by-web > /www/index.html && exec httpd -f -p 80 -h /www"]
    volumes: ["www:/www"]
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", %q]
volumes:
  www: {}
`
	client := shGet + "until r=$(get web); do sleep 0.1; done; echo fetched $r; exec sleep 1000"
	client = strings.ReplaceAll(client, "$", "$$") // compose's interpolation
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(fmt.Sprintf(project, client)), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) string {
		t.Helper()
		return s.mustDocker(append([]string{"compose", "--project-directory", dir}, args...)...)
	}
	t.Cleanup(func() { s.docker("", "compose", "--project-directory", dir, "down", "-v", "-t", "0") })

	compose("up", "-d")
	out := compose("ps", "--format", "{{.Service}} {{.State}}")
	if out != "client running\nweb running\n" {
		t.Fatalf("compose ps: %q", out)
	}
	testutil.WaitFor(t, "the client's fetch in its logs", func() bool {
		return strings.Contains(compose("logs", "client"), "fetched served-by-web")
	})
	if out := compose("exec", "-T", "web", "cat", "/www/index.html"); out != "served-by-web\n" {
		t.Fatalf("compose exec web: %q", out)
	}
	if out := compose("exec", "-T", "client", "sh", "-c", shGet+"get web"); out != "served-by-web\n" {
		t.Fatalf("compose exec client get web: %q", out)
	}
	if out := s.hoist("network", "ls", "--format", "{{.Name}}"); !strings.Contains(out, "hoisttest_default\n") {
		t.Fatalf("network of the project: %q", out)
	}
	compose("down", "-v", "-t", "1")
	if out := s.hoist("ps", "-a", "-q"); out != "" {
		t.Fatalf("containers after down: %q", out)
	}
	if out := s.hoist("network", "ls", "--format", "{{.Name}}"); out != "bridge\nhost\nnone\n" {
		t.Fatalf("networks after down: %q", out)
	}
	if out := s.hoist("volume", "ls", "-q"); out != "" {
		t.Fatalf("volumes after down -v: %q", out)
	}
}
