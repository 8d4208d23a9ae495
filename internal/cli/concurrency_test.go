package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// rootRunner runs the real binary on one root, each command bounded (a hung
// command is a deadlock: the test fails, it does not hang).
type rootRunner struct {
	t    *testing.T
	bin  string
	root string
}

func (r rootRunner) run(args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--root", r.root}, args...)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Sprintf("%s\n(timed out after 2m: a deadlock?)", out), -1
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		return string(out) + err.Error(), -1
	}
	return string(out), 0
}

func (r rootRunner) must(args ...string) string {
	r.t.Helper()
	out, code := r.run(args...)
	if code != 0 {
		r.t.Fatalf("hoist %s: %d %s", strings.Join(args, " "), code, out)
	}
	return out
}

// loopFor runs fn over and over until d has passed (at least once) and
// returns how many times it ran.
func loopFor(d time.Duration, fn func(i int)) int {
	end := time.Now().Add(d)
	i := 0
	for ; i == 0 || time.Now().Before(end); i++ {
		fn(i)
	}
	return i
}

// failures collects what concurrent workers saw go wrong.
type failures struct {
	mu   sync.Mutex
	list []string
}

func (f *failures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.list) < 20 {
		f.list = append(f.list, fmt.Sprintf(format, args...))
	}
}

// TestRunRmWhileContainerPrune: `container prune` removes stopped and
// created containers, but never one that `run` has created and not yet
// started (it used to, and the run failed with "open .../state.json: no
// such file or directory" or ".../lock", exit 125).
func TestRunRmWhileContainerPrune(t *testing.T) {
	root := ctrRoot(t)
	h := rootRunner{t, hoistBinary(t), root}
	h.must("import", busyboxRootTar(t), "base:1")
	var fails failures
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if out, code := h.run("container", "prune", "-f"); code != 0 {
					fails.add("container prune: %d %s", code, out)
				}
			}
		}()
	}
	var runs sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for w := 0; w < 3; w++ {
		runs.Add(1)
		go func() {
			defer runs.Done()
			n := loopFor(15*time.Second, func(int) {
				if out, code := h.run("run", "--rm", "--network", "none", "base:1", "true"); code != 0 {
					fails.add("run --rm: %d %s", code, out)
				}
			})
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	runs.Wait()
	close(stop)
	wg.Wait()
	t.Logf("%d runs against 2 container prune loops", total)
	for _, f := range fails.list {
		t.Error(f)
	}
}

// freeLocalAddr is a 127.0.0.1 address with a port free right now.
func freeLocalAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// serveRegistry runs `hoist registry serve` on 127.0.0.1 for the test's life
// and returns its address once it answers.
func serveRegistry(t *testing.T, bin string) string {
	t.Helper()
	addr := freeLocalAddr(t)
	cmd := exec.Command(bin, "registry", "serve", "--addr", addr, "--root", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s never answered: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrentRootStress is parallel builds, pulls, loads and runs on one
// root while `image prune -af`, `container prune -f` and `rmi -f` loop:
// every build, pull, load and run must succeed (none fails because of a
// prune), nothing hangs, `system check` finds the store consistent, the
// image a container holds survives and runs, and no mount is left behind
// (ctrRoot's cleanup).
func TestConcurrentRootStress(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	root := ctrRoot(t)
	bin := hoistBinary(t)
	h := rootRunner{t, bin, root}
	h.must("import", busyboxRootTar(t), "base:1")
	// A running container keeps base:1 from `image prune -a`.
	h.must("run", "-d", "--name", "keeper", "--network", "none", "base:1", "sleep", "1000")
	reg := serveRegistry(t, bin)

	ctxDir := t.TempDir()
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM base:1\nARG N=0\nCOPY f /f\nRUN echo $N > /n\n"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "f"), []byte("file\n"), 0o644)
	// An image to pull (pushed, then removed locally) and one to load.
	h.must("build", "-q", "--build-arg", "N=pull", "-t", reg+"/pullme:1", ctxDir)
	h.must("push", "-q", reg+"/pullme:1")
	h.must("build", "-q", "--build-arg", "N=load", "-t", "loadme:1", ctxDir)
	archive := filepath.Join(t.TempDir(), "loadme.tar")
	h.must("save", "-o", archive, "loadme:1")
	h.must("rmi", reg+"/pullme:1", "loadme:1")

	const d = 25 * time.Second
	var fails failures
	var counts sync.Map
	var wg sync.WaitGroup
	worker := func(name string, fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts.Store(name, loopFor(d, fn))
		}()
	}
	must := func(what string, args ...string) {
		if out, code := h.run(args...); code != 0 {
			fails.add("%s: hoist %s: %d %s", what, strings.Join(args, " "), code, out)
		}
	}
	for b := 0; b < 2; b++ {
		worker(fmt.Sprintf("build-miss-%d", b), func(i int) {
			must("build", "build", "-q", "--build-arg", fmt.Sprintf("N=%d-%d", b, i), "-t", fmt.Sprintf("built:%d", b), ctxDir)
		})
	}
	worker("build-cached", func(int) { must("build", "build", "-q", "-t", "cached:1", ctxDir) })
	worker("pull", func(int) { must("pull", "pull", "-q", reg+"/pullme:1") })
	worker("load", func(int) { must("load", "load", "-q", "-i", archive) })
	for r := 0; r < 2; r++ {
		worker(fmt.Sprintf("run-%d", r), func(int) { must("run", "run", "--rm", "--network", "none", "base:1", "true") })
	}
	// The removers: their own failures ("No such image", conflicts) are
	// expected; only a hang counts.
	remover := func(name string, args ...string) {
		worker(name, func(int) {
			if out, code := h.run(args...); code == -1 {
				fails.add("%s: %s", name, out)
			}
		})
	}
	remover("image-prune", "image", "prune", "-af")
	remover("container-prune", "container", "prune", "-f")
	remover("rmi", "rmi", "-f", reg+"/pullme:1", "loadme:1", "built:0", "built:1", "cached:1")
	wg.Wait()
	var summary []string
	counts.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%s=%d", k, v))
		return true
	})
	t.Logf("operations in %s: %s", d, strings.Join(summary, " "))
	for _, f := range fails.list {
		t.Error(f)
	}
	if out, code := h.run("system", "check"); code != 0 || !strings.Contains(out, "No problems found") {
		t.Errorf("system check after the stress: %d %s", code, out)
	}
	if out := h.must("run", "--rm", "--network", "none", "base:1", "cat", "/bin/sh"); len(out) == 0 {
		t.Error("base:1 lost its content")
	}
	// What was built, pulled and loaded can be again, and runs.
	h.must("pull", "-q", reg+"/pullme:1")
	h.must("load", "-q", "-i", archive)
	h.must("build", "-q", "-t", "cached:1", ctxDir)
	for _, img := range []string{reg + "/pullme:1", "loadme:1", "cached:1"} {
		if out := h.must("run", "--rm", "--network", "none", img, "cat", "/n", "/f"); !strings.HasSuffix(out, "file\n") {
			t.Errorf("run %s: %q", img, out)
		}
	}
	h.must("rm", "-f", "keeper")
}
