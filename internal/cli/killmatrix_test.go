package cli

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// killOp is one verb of the kill matrix.
type killOp struct {
	name string
	// max is about the verb's run time here: the first kill lands at a
	// random fraction of it, later ones at a fraction of the retry's
	// measured run time, so kills fall before, during and after the work.
	max time.Duration
	// setup makes the verb's precondition (run to completion, not killed).
	setup func(step int)
	args  func(step int) []string
	stdin func(step int) []byte
	// gone reports, for a removal, that its target no longer exists: a
	// retry that then fails only says the killed run had finished.
	gone func(step int) bool
	// made names the image the verb leaves, which every later step checks.
	made func(step int) string
}

// TestKillMatrix kills hoist with SIGKILL at a random moment of each verb
// that writes the store (load, import, pull, push, build, commit, tag,
// rmi, image/system/builder prune, container create/rm, volume rm). After
// each kill: `system check` is clean, or made clean by `system check
// --repair`; every image made by an earlier step still runs (`run --rm
// IMG true`); and the retried verb succeeds, leaving the store clean.
//
// The delays come from a seeded generator; the seed is logged, and
// HOIST_KILLMATRIX_SEED=<seed> replays the same kill points (as far as the
// scheduler allows). HOIST_KILLMATRIX_ROUNDS (default 3) sets how many
// times the matrix runs.
func TestKillMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real binary, runc, overlay)")
	}
	h, ctxDir := buildEnv(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HOIST_KILLMATRIX_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("HOIST_KILLMATRIX_SEED: %v", err)
		}
	}
	rounds := 3
	if s := os.Getenv("HOIST_KILLMATRIX_ROUNDS"); s != "" {
		var err error
		if rounds, err = strconv.Atoi(s); err != nil || rounds < 1 {
			t.Fatalf("HOIST_KILLMATRIX_ROUNDS=%q", s)
		}
	}
	t.Logf("kill matrix seed %d (replay with HOIST_KILLMATRIX_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	dockerConfigDir(t)
	reg := serveRegistryBinary(t, h.bin)
	rootfs := busyboxTar(t)
	exists := func(kind, name string) bool {
		_, _, code := h.run(nil, kind, "inspect", name)
		return code == 0
	}

	// The image load reads shares its layer with "busybox"; the image
	// pull fetches has a layer of its own, so every pull downloads.
	src := hoistRunner{t: t, bin: h.bin, root: t.TempDir()}
	src.must(rootfs, "import", "-c", `CMD ["sh"]`, "-", "loadme:1")
	archive := filepath.Join(t.TempDir(), "loadme.tar")
	src.must(nil, "save", "-o", archive, "loadme:1")
	pulled := reg + "/kill/pulled:1"
	src.must(tarWithFile(t, rootfs, "pulled", "only in the pulled image\n"), "import", "-", pulled)
	src.must(nil, "push", pulled)

	// Every image some step made, by name; each must stay runnable.
	made := map[string]bool{"busybox:latest": true}
	ops := []killOp{
		{name: "load", max: 120 * time.Millisecond,
			setup: func(int) {
				if exists("image", "loadme:1") {
					h.must(nil, "rmi", "loadme:1")
				}
			},
			args: func(int) []string { return []string{"load", "-q", "-i", archive} },
			made: func(int) string { return "loadme:1" }},
		{name: "import", max: 120 * time.Millisecond,
			args:  func(int) []string { return []string{"import", "-c", `CMD ["sh"]`, "-", "imp"} },
			stdin: func(int) []byte { return rootfs },
			made:  func(int) string { return "imp:latest" }},
		{name: "pull", max: 250 * time.Millisecond,
			setup: func(int) {
				if exists("image", pulled) {
					h.must(nil, "rmi", pulled)
				}
			},
			args: func(int) []string { return []string{"pull", "-q", pulled} },
			made: func(int) string { return pulled }},
		{name: "push", max: 250 * time.Millisecond,
			setup: func(step int) { h.must(nil, "tag", "imp", fmt.Sprintf("%s/kill/pushed:%d", reg, step)) },
			args:  func(step int) []string { return []string{"push", "-q", fmt.Sprintf("%s/kill/pushed:%d", reg, step)} }},
		{name: "build", max: 1500 * time.Millisecond,
			setup: func(step int) {
				df := fmt.Sprintf("FROM busybox\nRUN echo %d-%d > /stamp\n", seed, step)
				if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			args: func(int) []string { return []string{"build", "-q", "-t", "built", ctxDir} },
			made: func(int) string { return "built:latest" }},
		{name: "commit", max: 150 * time.Millisecond,
			setup: func(step int) {
				if !exists("container", "commitsrc") {
					h.must(nil, "run", "--name", "commitsrc", "busybox", "sh", "-c", "echo committed > /c")
				}
			},
			args: func(int) []string { return []string{"commit", "commitsrc", "committed"} },
			made: func(int) string { return "committed:latest" }},
		{name: "tag", max: 30 * time.Millisecond,
			args: func(step int) []string { return []string{"tag", "busybox", fmt.Sprintf("tagged:%d", step)} },
			made: func(step int) string { return fmt.Sprintf("tagged:%d", step) }},
		{name: "rmi", max: 40 * time.Millisecond,
			setup: func(step int) {
				h.must(tarWithFile(t, nil, "rmme", fmt.Sprintf("%d-%d\n", seed, step)), "import", "-", fmt.Sprintf("rmme:%d", step))
			},
			args: func(step int) []string { return []string{"rmi", fmt.Sprintf("rmme:%d", step)} },
			gone: func(step int) bool { return !exists("image", fmt.Sprintf("rmme:%d", step)) }},
		{name: "image prune", max: 40 * time.Millisecond,
			setup: func(step int) {
				h.must(tarWithFile(t, nil, "dangling", fmt.Sprintf("%d-%d\n", seed, step)), "import", "-")
			},
			args: func(int) []string { return []string{"image", "prune", "-f"} }},
		{name: "system prune", max: 60 * time.Millisecond,
			setup: func(step int) {
				h.must(tarWithFile(t, nil, "dangling", fmt.Sprintf("%d-%d-sys\n", seed, step)), "import", "-")
				h.must(nil, "create", "busybox", "true")
			},
			args: func(int) []string { return []string{"system", "prune", "-f"} }},
		{name: "builder prune", max: 40 * time.Millisecond,
			args: func(int) []string { return []string{"builder", "prune", "-a", "-f"} }},
		{name: "container create", max: 60 * time.Millisecond,
			args: func(int) []string { return []string{"create", "busybox", "true"} }},
		{name: "container rm", max: 40 * time.Millisecond,
			setup: func(step int) { h.must(nil, "create", "--name", fmt.Sprintf("rmc%d", step), "busybox", "true") },
			args:  func(step int) []string { return []string{"rm", fmt.Sprintf("rmc%d", step)} },
			gone:  func(step int) bool { return !exists("container", fmt.Sprintf("rmc%d", step)) }},
		{name: "volume rm", max: 40 * time.Millisecond,
			setup: func(step int) {
				v := fmt.Sprintf("vol%d", step)
				h.must(nil, "volume", "create", v)
				h.must(nil, "run", "--rm", "-v", v+":/data", "busybox", "sh", "-c", "echo kept > /data/f")
			},
			args: func(step int) []string { return []string{"volume", "rm", fmt.Sprintf("vol%d", step)} },
			gone: func(step int) bool { return !exists("volume", fmt.Sprintf("vol%d", step)) }},
	}

	span := map[string]time.Duration{}
	for _, op := range ops {
		span[op.name] = op.max
	}
	repaired, leftovers, midway := 0, 0, 0
	start := time.Now()
	step := 0
	for round := range rounds {
		for _, op := range ops {
			step++
			if op.made != nil {
				// What the verb makes is not earlier than it.
				delete(made, op.made(step))
			}
			if op.setup != nil {
				op.setup(step)
			}
			var stdin []byte
			if op.stdin != nil {
				stdin = op.stdin(step)
			}
			args := op.args(step)
			delay := time.Duration(rng.Float64() * 1.1 * float64(span[op.name]))
			finished := h.killAfter(delay, stdin, args...)
			if !finished {
				midway++
			}
			where := fmt.Sprintf("seed %d, round %d, step %d: %s killed after %v (finished first: %v)", seed, round, step, op.name, delay, finished)
			t.Log(where)

			if out, _, code := h.run(nil, "system", "check"); code != 0 || !strings.Contains(out, "No problems found.") {
				t.Logf("%s: system check before repair:\n%s", where, out)
				if _, errOut, code := h.run(nil, "system", "check", "--repair"); code != 0 {
					t.Fatalf("%s: system check --repair: exit %d\n%s", where, code, errOut)
				}
				if out, _, code := h.run(nil, "system", "check"); code != 0 || !strings.Contains(out, "No problems found.") {
					t.Fatalf("%s: system check after --repair: exit %d\n%s", where, code, out)
				}
				repaired++
			}
			if out := h.must(nil, "system", "check"); strings.Contains(out, "leftover:") {
				t.Logf("%s: left\n%s", where, out)
				leftovers++
			}
			h.allRun(where, made)
			h.allContainers(where)

			began := time.Now()
			out, errOut, code := h.run(stdin, args...)
			span[op.name] = time.Since(began)
			if code != 0 && (op.gone == nil || !op.gone(step)) {
				t.Fatalf("%s: retry %v: exit %d\n%s%s", where, args, code, out, errOut)
			}
			if op.made != nil {
				made[op.made(step)] = true
			}
			if out, _, code := h.run(nil, "system", "check"); code != 0 || !strings.Contains(out, "No problems found.") {
				t.Fatalf("%s: system check after the retry: exit %d\n%s", where, code, out)
			}
		}
	}
	h.allRun("after the matrix", made)
	// What killed runs left is reclaimed once no live process owns it.
	h.must(nil, "system", "check", "--repair")
	for _, l := range strings.Split(h.must(nil, "system", "check"), "\n") {
		if strings.HasPrefix(l, "leftover:") {
			t.Errorf("after system check --repair: %s", l)
		}
	}
	t.Logf("kill matrix: %d runs (%d killed midway) in %v; %d left leftovers, %d needed system check --repair",
		step, midway, time.Since(start).Round(time.Millisecond), leftovers, repaired)
}

// allContainers checks that every container listed inspects.
func (h hoistRunner) allContainers(where string) {
	h.t.Helper()
	for _, id := range strings.Fields(h.must(nil, "ps", "-aq")) {
		if _, errOut, code := h.run(nil, "container", "inspect", id); code != 0 {
			h.t.Fatalf("%s: container %s listed but does not inspect: %s", where, id, errOut)
		}
	}
}

// killAfter runs hoist with args and kills it with SIGKILL after delay
// (unless it exits first, which it reports).
func (h hoistRunner) killAfter(delay time.Duration, stdin []byte, args ...string) bool {
	h.t.Helper()
	cmd := exec.Command(h.bin, append([]string{"--root", h.root}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return false
	}
}

// allRun checks that every named image still resolves and runs `true`
// (each image ID once, two at a time).
func (h hoistRunner) allRun(where string, names map[string]bool) {
	h.t.Helper()
	ids := map[string]string{}
	for name := range names {
		out, errOut, code := h.run(nil, "image", "inspect", "-f", "{{.Id}}", name)
		if code != 0 {
			h.t.Fatalf("%s: earlier image %s lost: %s", where, name, errOut)
		}
		ids[strings.TrimSpace(out)] = name
	}
	var mu sync.Mutex
	var failed []string
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, name := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command(h.bin, "--root", h.root, "run", "--rm", name, "true")
			if out, err := cmd.CombinedOutput(); err != nil {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("run --rm %s true: %v\n%s", name, err, out))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		h.t.Fatalf("%s: earlier images no longer run:\n%s", where, strings.Join(failed, "\n"))
	}
}

// tarWithFile returns the tar archive base (nil: empty) with one more
// regular file.
func tarWithFile(t *testing.T, base []byte, name, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tr := tar.NewReader(bytes.NewReader(base))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(hdr)
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// serveRegistryBinary runs `hoist registry serve` on a free port of
// 127.0.0.1 until the test ends and returns its host:port.
func serveRegistryBinary(t *testing.T, bin string) string {
	t.Helper()
	return serveRegistryBinaryAt(t, bin, t.TempDir())
}

// serveRegistryBinaryAt is serveRegistryBinary over the registry root root.
func serveRegistryBinaryAt(t *testing.T, bin, root string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--root", root, "registry", "serve", "--addr", addr)
	cmd.Env = append(os.Environ(), "HOIST_REGISTRY_ACCESS_LOG=false")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("hoist registry serve exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hoist registry serve not answering on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
