package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// docker build with the buildx plugin installed (docker CLI 23+'s
// default: buildx's docker driver, over BuildKit's /grpc and /session)
// and compose build, through hoist serve: buildx finds the docker driver,
// the build honours its flags and .dockerignore, a rebuild after one file
// changed reuses the steps before the COPY, failures and what hoist's
// builder does not do are errors naming them, builder prune removes the
// context mirrors, and the store stays consistent.
func TestAPIBuildx(t *testing.T) {
	buildx := buildxPlugin(t)
	compose := composePlugin(t)
	s := apiSetup(t)
	s.plugin("docker-buildx", buildx)
	s.plugin("docker-compose", compose)
	s.buildkit = true

	// buildx probes /grpc and picks the docker driver (not the
	// docker-container one, which would pull moby/buildkit).
	if out := s.mustDocker("buildx", "ls"); !regexp.MustCompile(`(?m)^default\*?\s+docker\s*$`).MatchString(out) || !strings.Contains(out, "running") {
		t.Fatalf("buildx ls: %q", out)
	}

	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM busybox AS base\nARG X=def\nRUN echo \"x=$X\" > /x\nFROM base\nCOPY . /ctx/\nRUN cat /x /ctx/f.txt\nCMD [\"cat\", \"/ctx/f.txt\"]\n")
	write(".dockerignore", "secret.txt\n")
	write("f.txt", "one\n")
	write("secret.txt", "not sent\n")
	iid := filepath.Join(t.TempDir(), "iid")
	build := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := s.docker("", append([]string{"build", "--progress", "plain"}, args...)...)
		return out + errOut, code
	}
	out, code := build("-t", "bx:1", "--build-arg", "X=given", "--label", "by=buildx", "--iidfile", iid, dir)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, out)
	}
	for _, want := range []string{`building with "default" instance using docker driver`, "[internal] load build context", "x=given", "one", "exporting to image", "naming to bx:1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("build output lacks %q:\n%s", want, out)
		}
	}
	if out := s.mustDocker("run", "--rm", "--network", "none", "bx:1"); out != "one\n" {
		t.Fatalf("run bx:1: %q", out)
	}
	if out := s.mustDocker("run", "--rm", "--network", "none", "bx:1", "ls", "/ctx"); strings.Contains(out, "secret.txt") || !strings.Contains(out, "f.txt") {
		t.Fatalf(".dockerignore not applied: /ctx holds %q", out)
	}
	id, _ := os.ReadFile(iid)
	if got := strings.TrimSpace(s.mustDocker("inspect", "-f", "{{.Id}} {{.Config.Labels.by}}", "bx:1")); got != string(id)+" buildx" {
		t.Fatalf("inspect: %q, iidfile %q", got, id)
	}

	// One file changed: the steps before the COPY are cached, the new
	// content is in the image.
	write("f.txt", "two\n")
	out, code = build("-t", "bx:1", "--build-arg", "X=given", dir)
	if code != 0 || !regexp.MustCompile(`RUN echo "x=\$X" > /x\n#\d+ CACHED`).MatchString(out) {
		t.Fatalf("rebuild: exit %d\n%s", code, out)
	}
	if out := s.mustDocker("run", "--rm", "--network", "none", "bx:1"); out != "two\n" {
		t.Fatalf("run rebuilt bx:1: %q", out)
	}

	// --push: buildx pushes through the Engine API and asks the registry
	// for the pushed digest (GET /distribution/NAME/json).
	addr := serveRegistryBinary(t, s.bin)
	if out, code := build("--push", "-t", addr+"/bx/app:1", dir); code != 0 || !strings.Contains(out, "pushing "+addr+"/bx/app:1 with docker") {
		t.Fatalf("build --push: exit %d\n%s", code, out)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.sock)
	}}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := hc.Get("http://hoist" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/v1.51/distribution/" + addr + "/bx/app:1/json"); code != 200 || !strings.Contains(body, `"Platforms":[{"architecture":"`+runtime.GOARCH+`","os":"linux"}]`) {
		t.Fatalf("distribution inspect: %d %s", code, body)
	}
	if code, body := get("/v1.51/distribution/" + addr + "/bx/nosuch:1/json"); code != 404 || !strings.Contains(body, "not found") {
		t.Fatalf("distribution inspect of a missing image: %d %s", code, body)
	}

	// --secret comes through the session, only while its step runs.
	write("Dockerfile.secret", "FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok\nRUN --mount=type=secret,id=tok,env=TOK echo \"env=$TOK\"\nRUN --mount=type=secret,id=absent ls /run/secrets/ >/listing\n")
	tok := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tok, []byte("s3cr3t"), 0o600)
	out, code = build("-t", "bx:secret", "--secret", "id=tok,src="+tok, "-f", filepath.Join(dir, "Dockerfile.secret"), dir)
	if code != 0 || !strings.Contains(out, "s3cr3t") || !strings.Contains(out, "env=s3cr3t") {
		t.Fatalf("build with --secret: exit %d\n%s", code, out)
	}
	if out := s.mustDocker("run", "--rm", "--network", "none", "bx:secret", "sh", "-c", "cat /listing; ls /run/secrets 2>&1; true"); strings.Contains(out, "tok") {
		t.Fatalf("the secret stayed in the image: %q", out)
	}

	// Failures and what hoist's builder does not do.
	write("Dockerfile.bad", "FROM busybox\nRUN exit 3\n")
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-f", filepath.Join(dir, "Dockerfile.bad"), dir}, "returned a non-zero code: 3"},
		{[]string{"-f", filepath.Join(dir, "Nope"), dir}, "Nope"},
		{[]string{"--platform", "linux/" + other, dir}, "builds for this machine's platform"},
		{[]string{"--build-context", "extra=docker-image://busybox", dir}, "named build contexts"},
	} {
		if out, code := build(c.args...); code == 0 || !strings.Contains(out, c.want) {
			t.Fatalf("build %v: exit %d, want an error with %q:\n%s", c.args, code, c.want, out)
		}
	}

	// --output: files instead of an image, sent to the client's session
	// (a directory, or a tar stream).
	dest := t.TempDir()
	if out, code := build("-o", "type=local,dest="+dest, dir); code != 0 {
		t.Fatalf("build -o type=local: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "ctx", "f.txt")); err != nil || string(b) != "two\n" {
		t.Fatalf("local output: %q %v", b, err)
	}
	tarFile := filepath.Join(t.TempDir(), "out.tar")
	if out, code := build("-o", "type=tar,dest="+tarFile, dir); code != 0 {
		t.Fatalf("build -o type=tar: exit %d\n%s", code, out)
	}
	tb, err := os.ReadFile(tarFile)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, m := range readTarMembers(t, tb) {
		names[strings.TrimPrefix(m.name, "./")] = string(m.body)
	}
	if names["ctx/f.txt"] != "two\n" || names["x"] != "x=def\n" {
		t.Fatalf("tar output: ctx/f.txt %q, x %q", names["ctx/f.txt"], names["x"])
	}

	// compose build goes through buildx too.
	proj := t.TempDir()
	os.WriteFile(filepath.Join(proj, "Dockerfile"), []byte("FROM busybox\nCOPY a /a\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "a"), []byte("from compose\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "compose.yaml"), []byte("name: bxproj\nservices:\n  app:\n    build: .\n    image: bxproj-app:dev\n"), 0o644)
	if out, errOut, code := s.docker("", "compose", "--project-directory", proj, "build"); code != 0 {
		t.Fatalf("compose build: exit %d\n%s%s", code, out, errOut)
	}
	if out := s.mustDocker("run", "--rm", "--network", "none", "bxproj-app:dev", "cat", "/a"); out != "from compose\n" {
		t.Fatalf("run the compose-built image: %q", out)
	}

	// /grpc and /session take only connections upgraded to h2c.
	for _, path := range []string{"/grpc", "/session"} {
		resp, err := hc.Post("http://hoist"+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "upgraded to h2c") {
			t.Fatalf("POST %s without an upgrade: %d %s", path, resp.StatusCode, body)
		}
	}

	// builder prune (buildx's, which docker builder prune becomes) removes
	// the context mirrors with the cache.
	s.mustDocker("builder", "prune", "-af")
	ents, _ := os.ReadDir(filepath.Join(s.root, "build", "contexts"))
	for _, e := range ents {
		if e.IsDir() {
			t.Fatalf("builder prune left the context mirror %s", e.Name())
		}
	}
	if out := s.hoist("system", "check"); !strings.Contains(out, "No problems found") {
		t.Fatalf("system check: %s", out)
	}
}
