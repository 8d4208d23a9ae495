package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/mount"
)

func buildEnv(t *testing.T) (hoistRunner, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("build tests need root (overlay, runc)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
	bb := busyboxTar(t)
	h := hoistRunner{t: t, bin: hoistBinary(t), root: t.TempDir()}
	t.Cleanup(func() {
		mps, _ := mount.MountPoints(h.root)
		for i := len(mps) - 1; i >= 0; i-- {
			mount.UnmountAll(mps[i])
		}
		if len(mps) > 0 {
			t.Errorf("leaked mounts: %v", mps)
		}
	})
	h.must(bb, "import", "-c", `CMD ["sh"]`, "-", "busybox")
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "hello.txt"), []byte("hello\n"), 0o644)
	return h, ctx
}

func TestBuildCLI(t *testing.T) {
	h, ctx := buildEnv(t)
	df := "FROM busybox\nARG A=1\nRUN echo run-output-$A\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)

	out, errOut, code := h.run(nil, "build", "--progress", "plain", "-t", "demo", "--build-arg", "UNUSED=x", "--label", "org.test=yes", ctx)
	if code != 0 {
		t.Fatalf("build: %d\n%s", code, errOut)
	}
	if !regexp.MustCompile(`^Successfully built [0-9a-f]{12}\nSuccessfully tagged demo:latest\n$`).MatchString(out) {
		t.Errorf("stdout = %q", out)
	}
	for _, want := range []string{"#3 [3/5] RUN echo run-output-$A", "run-output-1", "[Warning] One or more build-args [UNUSED] were not consumed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("progress lacks %q:\n%s", want, errOut)
		}
	}
	if got := h.must(nil, "inspect", "--format", "{{json .Config.Labels}}", "demo"); strings.TrimSpace(got) != `{"org.test":"yes"}` {
		t.Errorf("--label: Labels = %s", got)
	}
	_, errOut, _ = h.run(nil, "build", "--progress", "plain", "-t", "demo", ctx)
	if strings.Count(errOut, "CACHED") != 4 {
		t.Errorf("rebuild not cached:\n%s", errOut)
	}
	iid := filepath.Join(t.TempDir(), "iid")
	out = h.must(nil, "build", "-q", "--iidfile", iid, ctx)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Errorf("-q output %q", out)
	}
	if b, _ := os.ReadFile(iid); string(b) != strings.TrimSpace(out) {
		t.Errorf("iidfile %q, -q %q", b, out)
	}
	if got := h.must(nil, "inspect", "--format", "{{json .Config.Cmd}}", "demo"); strings.TrimSpace(got) != `["cat","/hello.txt"]` {
		t.Errorf("Cmd = %s", got)
	}

	// A Dockerfile alone on stdin, and a tar context on stdin.
	out = h.must([]byte("FROM busybox\nENV FROM_STDIN=1\n"), "build", "-q", "-")
	if !strings.HasPrefix(out, "sha256:") {
		t.Errorf("stdin Dockerfile: %q", out)
	}
	var tarBuf bytes.Buffer
	tc := exec.Command("tar", "-C", ctx, "-cf", "-", ".")
	tc.Stdout = &tarBuf
	if err := tc.Run(); err != nil {
		t.Fatal(err)
	}
	h.must(tarBuf.Bytes(), "build", "-q", "-t", "fromtar", "-")
	if got := h.must(nil, "inspect", "--format", "{{.Id}}", "fromtar"); strings.TrimSpace(got) != strings.TrimSpace(h.must(nil, "inspect", "--format", "{{.Id}}", "demo")) {
		t.Errorf("tar context built a different image")
	}

	// Failures: a RUN that exits non-zero, an unknown target, a bad file.
	os.WriteFile(filepath.Join(ctx, "Dockerfile.bad"), []byte("FROM busybox\nRUN echo failing && exit 3\n"), 0o644)
	_, errOut, code = h.run(nil, "build", "--progress", "plain", "-f", filepath.Join(ctx, "Dockerfile.bad"), "-t", "bad", ctx)
	// docker's words and its exit status: the command's code, and the
	// message as the last line, with no "Error:" before it.
	if code != 3 || !strings.HasSuffix(errOut, "\nThe command '/bin/sh -c echo failing && exit 3' returned a non-zero code: 3\n") || !strings.Contains(errOut, "failing") {
		t.Errorf("failing RUN: %d\n%s", code, errOut)
	}
	// bad:latest, not bad: "bad" is also a hex prefix that an image ID
	// (they differ per run) may start with.
	if out, _, code := h.run(nil, "image", "inspect", "-f", "{{.Id}} {{.RepoTags}}", "bad:latest"); code == 0 {
		t.Errorf("failed build left a tag: %s", out)
	}
	if _, errOut, code := h.run(nil, "build", "--target", "nope", ctx); code != 1 || !strings.Contains(errOut, "nope") {
		t.Errorf("unknown target: %d %s", code, errOut)
	}
	if _, errOut, code := h.run(nil, "build", "--bogus", ctx); code != 125 {
		t.Errorf("bad flag: %d %s", code, errOut)
	}
	h.checkClean()

	df = h.must(nil, "system", "df")
	if !regexp.MustCompile(`(?m)^Build Cache\s+[1-9][0-9]*\s+0\s`).MatchString(df) {
		t.Errorf("system df has no build cache records:\n%s", df)
	}
	// Without -a only the dangling cache goes: these records all lead to
	// layers of images, so they stay; so does what is newer than until.
	out = h.must(nil, "builder", "prune", "-f")
	if out != "Total reclaimed space: 0B\n" {
		t.Errorf("builder prune (dangling only): %q", out)
	}
	if out = h.must(nil, "builder", "prune", "-a", "-f", "--filter", "until=24h"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("builder prune -a --filter until=24h: %q", out)
	}
	if _, errOut, code := h.run(nil, "builder", "prune", "-f", "--filter", "until=soon"); code != 1 || !strings.Contains(errOut, `"until" filter expects a duration (e.g., '24h'): time: invalid duration "soon"`) {
		t.Errorf("bad until: %d %s", code, errOut)
	}
	if _, errOut, code := h.run(nil, "builder", "prune", "-f", "--filter", "type=regular"); code != 1 || !strings.Contains(errOut, "invalid filter 'type'") {
		t.Errorf("unknown filter: %d %s", code, errOut)
	}
	if df2 := h.must(nil, "system", "df"); df2 != df {
		t.Errorf("system df changed by a prune that removed nothing:\n%s\n%s", df, df2)
	}
	out = h.must(nil, "builder", "prune", "-a", "-f")
	if !regexp.MustCompile(`^Deleted build cache objects:\n([0-9a-f]{64}\n)+\nTotal reclaimed space: `).MatchString(out) {
		t.Errorf("builder prune -a: %q", out)
	}
	df = h.must(nil, "system", "df")
	if !regexp.MustCompile(`(?m)^Build Cache\s+0\s+0\s+0B\s`).MatchString(df) {
		t.Errorf("system df after builder prune:\n%s", df)
	}
	if !strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("prune: %q", out)
	}
	_, errOut, _ = h.run(nil, "build", "--progress", "plain", ctx)
	if strings.Contains(errOut, "CACHED") {
		t.Errorf("cache survived builder prune:\n%s", errOut)
	}
}

func TestBuildKilledIsCleanedUp(t *testing.T) {
	h, ctx := buildEnv(t)
	// A sleep length no other process on the machine uses, to find it below.
	sleep := fmt.Sprintf("sleep %d", 600000+time.Now().UnixNano()%100000)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo started && "+sleep+"\n"), 0o644)
	cmd := exec.Command(h.bin, "--root", h.root, "build", "--progress", "plain", "-t", "killed", ctx)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "started") && !strings.Contains(sc.Text(), "RUN") {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// The next build cleans the dead build's container, mounts and files.
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo next\n"), 0o644)
	h.must(nil, "build", "-q", ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mps, _ := mount.MountPoints(filepath.Join(h.root, "build"))
		if len(mps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mounts left after kill -9 + next build: %v", mps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ents, _ := os.ReadDir(filepath.Join(h.root, "build", "tmp"))
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("temp dirs left: %v", names)
	}
	if _, _, code := h.run(nil, "inspect", "killed"); code == 0 {
		t.Error("killed build left a tag")
	}
	if out, _ := exec.Command("pgrep", "-f", sleep).Output(); len(out) > 0 {
		t.Errorf("the killed build's process still runs: %s", out)
	}
}

func TestBuildOutputLocalAndTar(t *testing.T) {
	h, ctx := buildEnv(t)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox AS b\nRUN echo built > /built\nFROM scratch\nCOPY --from=b /built /out/built\nCOPY hello.txt /\n"), 0o644)
	dest := filepath.Join(t.TempDir(), "out")
	h.must(nil, "build", "-o", "type=local,dest="+dest, ctx)
	if b, err := os.ReadFile(filepath.Join(dest, "out/built")); err != nil || string(b) != "built\n" {
		t.Errorf("local output: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "hello.txt")); err != nil || string(b) != "hello\n" {
		t.Errorf("local output: %q %v", b, err)
	}
	out := h.must(nil, "build", "-o", "type=tar,dest=-", ctx)
	cmd := exec.Command("tar", "-tf", "-")
	cmd.Stdin = strings.NewReader(out)
	names, err := cmd.Output()
	if err != nil || !strings.Contains(string(names), "out/built") || !strings.Contains(string(names), "hello.txt") {
		t.Errorf("tar output: %v\n%s", err, names)
	}
	if _, errOut, code := h.run(nil, "build", "-o", "type=registry", ctx); code == 0 || !strings.Contains(errOut, "not supported") {
		t.Errorf("bad output type: %d %s", code, errOut)
	}
}

func TestBuildPullsMissingImages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("build tests need root (overlay)")
	}
	dockerConfigDir(t)
	host := testRegistry(t)
	srcRoot, dstRoot := t.TempDir(), t.TempDir()
	t.Cleanup(func() {
		mps, _ := mount.MountPoints(dstRoot)
		for i := len(mps) - 1; i >= 0; i-- {
			mount.UnmountAll(mps[i])
		}
	})
	tarPath := filepath.Join(t.TempDir(), "bb.tar")
	os.WriteFile(tarPath, busyboxTar(t), 0o644)
	mustRun(t, srcRoot, "import", tarPath, host+"/base/bb:v1")
	mustRun(t, srcRoot, "push", host+"/base/bb:v1")

	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM "+host+"/base/bb:v1 AS a\nFROM "+host+"/base/bb:v1\nCOPY --from=a /etc/passwd /copied\n"), 0o644)
	out, errOut, code := run(t, dstRoot, "build", "--progress", "plain", "-t", "pulled", ctx)
	if code != 0 {
		t.Fatalf("build: %d %s", code, errOut)
	}
	if strings.Count(errOut, "pulling "+host+"/base/bb:v1") != 1 {
		t.Errorf("want one pull:\n%s", errOut)
	}
	if !strings.Contains(out, "Successfully tagged pulled:latest") {
		t.Errorf("stdout %q", out)
	}
	if got := mustRun(t, dstRoot, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(got, host+"/base/bb:v1") {
		t.Errorf("pulled base not in the store: %q", got)
	}
	// An image no registry has: a clear error naming it.
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM "+host+"/base/none:v1\n"), 0o644)
	_, errOut, code = run(t, dstRoot, "build", "-q", ctx)
	if code != 1 || !strings.Contains(errOut, host+"/base/none:v1") {
		t.Errorf("missing base: %d %s", code, errOut)
	}
}

// TestBuildCacheFromAfterSaveLoad: an image built on one machine, saved and
// loaded on another (a fresh root: no build cache records, the same context
// checked out anew) serves every step of the same build through
// --cache-from, COPY and ADD included (their history records the content
// hash), and the result is the same image.
func TestBuildCacheFromAfterSaveLoad(t *testing.T) {
	h, ctx := buildEnv(t)
	os.MkdirAll(filepath.Join(ctx, "src/sub"), 0o755)
	os.WriteFile(filepath.Join(ctx, "src/sub/a.txt"), []byte("a\n"), 0o644)
	df := "FROM busybox\nRUN echo one > /one\nCOPY src /src\nCOPY hello.txt /etc/\nADD hello.txt /added\nWORKDIR /w\nENV E=1\nRUN ls -R /src > /w/list\nCMD [\"sh\"]\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	h.must(nil, "build", "-q", "-t", "app", ctx)
	id := strings.TrimSpace(h.must(nil, "inspect", "--format", "{{.Id}}", "app"))
	saved := filepath.Join(t.TempDir(), "app.tar")
	h.must(nil, "save", "-o", saved, "app", "busybox")

	// Another machine: a fresh root and a fresh copy of the context, owned
	// by someone else.
	h2 := hoistRunner{t: t, bin: h.bin, root: t.TempDir()}
	t.Cleanup(func() {
		mps, _ := mount.MountPoints(h2.root)
		for i := len(mps) - 1; i >= 0; i-- {
			mount.UnmountAll(mps[i])
		}
	})
	ctx2 := t.TempDir()
	if out, err := exec.Command("cp", "-a", ctx+"/.", ctx2).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	exec.Command("chown", "-R", "1234:1234", ctx2).Run()
	h2.must(nil, "load", "-i", saved)
	_, errOut, code := h2.run(nil, "build", "--progress", "plain", "--cache-from", "app", "-t", "app2", ctx2)
	if code != 0 {
		t.Fatalf("build --cache-from: %d\n%s", code, errOut)
	}
	if n := strings.Count(errOut, "CACHED"); n != 8 {
		t.Errorf("%d steps CACHED, want all 8:\n%s", n, errOut)
	}
	if got := strings.TrimSpace(h2.must(nil, "inspect", "--format", "{{.Id}}", "app2")); got != id {
		t.Errorf("--cache-from build gave %s, want the saved image %s", got, id)
	}
}

// TestBuildSquashAndSecurityOptCLI: --squash gives the base's layers plus
// one (the unsquashed image stays, untagged; on scratch, one layer and a
// "create new from" entry); --security-opt reaches RUN or is refused with
// dockerd's message.
func TestBuildSquashAndSecurityOptCLI(t *testing.T) {
	h, ctx := buildEnv(t)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo a > /a\nRUN rm /a && echo b > /b\nCOPY hello.txt /\n"), 0o644)
	out := h.must(nil, "build", "--squash", "-t", "sq", ctx)
	if !regexp.MustCompile(`^Successfully built [0-9a-f]{12}\nSuccessfully tagged sq:latest\n$`).MatchString(out) {
		t.Errorf("stdout = %q", out)
	}
	if got := strings.TrimSpace(h.must(nil, "inspect", "--format", "{{len .RootFS.Layers}}", "sq")); got != "2" {
		t.Errorf("squashed image has %s layers, want 2", got)
	}
	if got := h.must(nil, "images", "--filter", "dangling=true", "-q"); len(strings.Fields(got)) != 1 {
		t.Errorf("unsquashed image not kept (dangling: %q)", got)
	}
	hist := h.must(nil, "history", "--no-trunc", "--format", "{{.Comment}}|{{.Size}}", "sq")
	if !strings.HasPrefix(hist, "merge sha256:") {
		t.Errorf("history:\n%s", hist)
	}
	out = h.must(nil, "run", "--rm", "sq", "sh", "-c", "ls /a 2>&1; cat /b /hello.txt")
	if !strings.Contains(out, "No such file") || !strings.Contains(out, "b\nhello\n") {
		t.Errorf("squashed files: %q", out)
	}
	os.WriteFile(filepath.Join(ctx, "Dockerfile.scratch"), []byte("FROM scratch\nCOPY hello.txt /\nCOPY hello.txt /again\n"), 0o644)
	h.must(nil, "build", "--squash", "-f", filepath.Join(ctx, "Dockerfile.scratch"), "-t", "sqscratch", ctx)
	if got := strings.TrimSpace(h.must(nil, "inspect", "--format", "{{len .RootFS.Layers}}", "sqscratch")); got != "1" {
		t.Errorf("squashed scratch image has %s layers, want 1", got)
	}
	if hist := h.must(nil, "history", "--no-trunc", "--format", "{{.Comment}}", "sqscratch"); !strings.HasPrefix(hist, "create new from sha256:") {
		t.Errorf("scratch squash history:\n%s", hist)
	}

	os.WriteFile(filepath.Join(ctx, "Dockerfile.nnp"), []byte("FROM busybox\nRUN grep NoNewPrivs /proc/self/status\n"), 0o644)
	_, errOut, code := h.run(nil, "build", "--progress", "plain", "--no-cache", "--security-opt", "no-new-privileges", "-f", filepath.Join(ctx, "Dockerfile.nnp"), ctx)
	if code != 0 || !regexp.MustCompile(`NoNewPrivs:\s+1`).MatchString(errOut) {
		t.Errorf("no-new-privileges: %d\n%s", code, errOut)
	}
	_, errOut, code = h.run(nil, "build", "--security-opt", "foo=bar", "-f", filepath.Join(ctx, "Dockerfile.nnp"), ctx)
	if code != 1 || !strings.Contains(errOut, `Error: invalid --security-opt 2: "foo=bar"`) {
		t.Errorf("bad --security-opt: %d\n%s", code, errOut)
	}
}

// A relative --root works for build RUN steps and run, whose paths reach
// runc bundles and monitors that have other working directories.
func TestRelativeRoot(t *testing.T) {
	h, ctx := buildEnv(t)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo built > /built\n"), 0o644)
	rel, err := filepath.Rel(filepath.Dir(h.root), h.root)
	if err != nil {
		t.Fatal(err)
	}
	in := func(args ...string) string {
		cmd := exec.Command(h.bin, append([]string{"--root", rel}, args...)...)
		cmd.Dir = filepath.Dir(h.root)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hoist --root %s %v: %v\n%s", rel, args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { waitMonitors(t, h.root) }) // run --rm's monitor cleans up after the exit
	in("build", "-q", "-t", "rel", ctx)
	if out := in("run", "--rm", "--network", "none", "rel", "cat", "/built"); out != "built\n" {
		t.Errorf("run with a relative root: %q", out)
	}
}
