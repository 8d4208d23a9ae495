package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/mount"
)

// Tests of "rollback owns only what it created" for the verbs other than
// load: import, pull, build, commit, tag, and the registry's push and GC.
// Each fails (or is killed) after touching content an existing image
// holds; then `system check` is clean, what the failure left is reclaimed
// by `system check --repair`, and the existing image saves, pushes and runs.

// reclaimed: the store has no problem; whatever leftovers the failed
// operation left go with `system check --repair`, and none is left after.
func reclaimed(t *testing.T, h hoistRunner) {
	t.Helper()
	h.t = t
	out, _, code := h.run(nil, "system", "check")
	if code != 0 || !strings.Contains(out, "No problems found.") {
		t.Fatalf("system check after the failure: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "leftover:") {
		// A failed pull, build or commit leaves the blobs it wrote,
		// unreferenced once its lease ended; repair takes such a blob
		// once it is older than a writer in flight could be: age them.
		t.Logf("left by the failure (reclaimable):\n%s", out)
		old := time.Now().Add(-24 * time.Hour)
		for _, l := range strings.Split(out, "\n") {
			if d, ok := strings.CutPrefix(l, "leftover: unreferenced blob sha256:"); ok {
				if err := os.Chtimes(filepath.Join(h.root, "content", "blobs", "sha256", d), old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
		h.must(nil, "system", "check", "--repair")
	}
	h.checkNoLeftover("after system check --repair")
}

// rollbackEnv is buildEnv (a root with busybox, a build context) with a
// `hoist registry serve` at reg over regRoot, and a client config of the test's own.
func rollbackEnv(t *testing.T) (h hoistRunner, ctxDir, reg, regRoot string) {
	t.Helper()
	h, ctxDir = buildEnv(t)
	t.Cleanup(func() { waitMonitors(t, h.root) })
	dockerConfigDir(t)
	regRoot = t.TempDir()
	return h, ctxDir, serveRegistryBinaryAt(t, h.bin, regRoot), regRoot
}

func TestFailedImportKeepsExistingImage(t *testing.T) {
	h, _, reg, _ := rollbackEnv(t)
	// busybox was imported from these very bytes: the import writes the
	// existing image's layer blob before its stream goes wrong.
	layer := busyboxTar(t)
	cases := map[string][]byte{
		"truncated":               layer[:len(layer)*3/4],
		"garbage after the layer": append(append([]byte{}, layer...), bytes.Repeat([]byte("garbage!"), 4096)...),
		"gzip cut short": func() []byte {
			gz := compress(t, "gz", layer)
			return gz[:len(gz)-64]
		}(),
	}
	for name, stream := range cases {
		t.Run(name, func(t *testing.T) {
			h.t = t
			_, errOut, code := h.run(stream, "import", "-", "broken:1")
			t.Logf("import: exit %d %s", code, strings.TrimSpace(errOut))
			if code == 0 {
				// Data after a tar's end-of-archive marker is not part of
				// the archive (docker ignores it too): then the import is
				// the existing layer again, and the image must be whole.
				if name != "garbage after the layer" {
					t.Fatalf("import of a %s stream succeeded", name)
				}
				intact(t, h, reg, "broken:1")
				h.must(nil, "rmi", "broken:1")
			} else if errOut == "" {
				t.Fatalf("import failed (exit %d) without saying why", code)
			}
			reclaimed(t, h)
			intact(t, h, reg, "busybox")
		})
	}
}

// registryManifest fetches repo:ref's manifest from the registry reg.
func registryManifest(t *testing.T, reg, repo, ref string) (layers []string, config string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+reg+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("manifest %s:%s: %s %v", repo, ref, resp.Status, err)
	}
	for _, l := range m.Layers {
		layers = append(layers, l.Digest)
	}
	return layers, m.Config.Digest
}

// TestFailedPullKeepsExistingImage: the registry serves an image whose
// first layer is the local busybox's (which this root pushed, so it holds
// that layer's gzip blob too) and whose second layer blob is missing,
// corrupt or cut short. The pull fails and the local image is whole.
func TestFailedPullKeepsExistingImage(t *testing.T) {
	h, ctxDir, reg, regRoot := rollbackEnv(t)
	h.must(nil, "tag", "busybox", reg+"/rb/base:1")
	h.must(nil, "push", "-q", reg+"/rb/base:1")
	h.must(nil, "rmi", reg+"/rb/base:1")

	src := hoistRunner{t: t, bin: h.bin, root: t.TempDir()}
	src.must(busyboxTar(t), "import", "-c", `CMD ["sh"]`, "-", "busybox")
	t.Cleanup(func() { waitMonitors(t, src.root) })
	spoil := map[string]func(p string){
		"missing": func(p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		},
		"corrupt": func(p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := len(b) / 2; i < len(b); i++ {
				b[i] ^= 0x5a
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"cut short": func(p string) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		},
	}
	for how, fn := range spoil {
		t.Run(how, func(t *testing.T) {
			h.t, src.t = t, t
			file := strings.ReplaceAll(how, " ", "-") + ".txt"
			// A second layer of its own: big enough to be sent in more than one read.
			body := strings.Repeat(how+" layer\n", 200000)
			if err := os.WriteFile(filepath.Join(ctxDir, file), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			df := filepath.Join(t.TempDir(), "Dockerfile")
			os.WriteFile(df, []byte("FROM busybox\nCOPY "+file+" /\n"), 0o644)
			ref := reg + "/rb/two:" + strings.ReplaceAll(how, " ", "-")
			src.must(nil, "build", "-q", "-f", df, "-t", ref, ctxDir)
			src.must(nil, "push", "-q", ref)
			layers, _ := registryManifest(t, reg, "rb/two", strings.ReplaceAll(how, " ", "-"))
			if len(layers) != 2 {
				t.Fatalf("pushed image has %d layers", len(layers))
			}
			fn(filepath.Join(regRoot, "blobs", "sha256", strings.TrimPrefix(layers[1], "sha256:")))

			_, errOut, code := h.run(nil, "pull", ref)
			if code == 0 {
				t.Fatalf("pull of an image whose layer is %s succeeded", how)
			}
			t.Logf("pull: %s", strings.TrimSpace(errOut))
			reclaimed(t, h)
			intact(t, h, reg, "busybox")
		})
	}
}

// TestFailedBuildKeepsExistingImage: builds FROM busybox whose COPY makes a
// layer identical to that of an existing image ("copied"), then fail at a
// RUN, or are killed or interrupted while it runs.
func TestFailedBuildKeepsExistingImage(t *testing.T) {
	h, ctxDir, reg, _ := rollbackEnv(t)
	dockerfile := func(t *testing.T, df string) string {
		p := filepath.Join(t.TempDir(), "Dockerfile")
		if err := os.WriteFile(p, []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h.must(nil, "build", "-q", "-f", dockerfile(t, "FROM busybox\nCOPY hello.txt /\n"), "-t", "copied", ctxDir)

	t.Run("RUN fails", func(t *testing.T) {
		h.t = t
		df := dockerfile(t, "FROM busybox\nCOPY hello.txt /\nRUN false\n")
		_, errOut, code := h.run(nil, "build", "--no-cache", "--progress", "plain", "-f", df, ctxDir)
		if code == 0 || !strings.Contains(errOut, "RUN false") {
			t.Fatalf("build with a failing RUN: exit %d\n%s", code, errOut)
		}
		reclaimed(t, h)
		intact(t, h, reg, "copied")
		intact(t, h, reg, "busybox")
	})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			h.t = t
			df := dockerfile(t, fmt.Sprintf("FROM busybox\nCOPY hello.txt /\nRUN echo started-%d && sleep 600\n", sig))
			cmd := exec.Command(h.bin, "--root", h.root, "build", "--no-cache", "--progress", "plain", "-f", df, ctxDir)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			var progress bytes.Buffer
			var mu sync.Mutex
			started := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stderr)
				once := sync.Once{}
				for sc.Scan() {
					mu.Lock()
					progress.WriteString(sc.Text() + "\n")
					mu.Unlock()
					if strings.Contains(sc.Text(), fmt.Sprintf("started-%d", sig)) && !strings.Contains(sc.Text(), "RUN") {
						once.Do(func() { close(started) })
					}
				}
				exited <- cmd.Wait()
			}()
			t.Cleanup(func() { cmd.Process.Kill() })
			select {
			case <-started:
			case err := <-exited:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("build ended before its RUN started: %v\n%s", err, progress.String())
			case <-time.After(2 * time.Minute):
				t.Fatal("the RUN step did not start")
			}
			cmd.Process.Signal(sig)
			select {
			case err := <-exited:
				if err == nil {
					t.Fatal("the interrupted build succeeded")
				}
			case <-time.After(2 * time.Minute):
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("build did not end after %v\n%s", sig, progress.String())
			}
			if sig == syscall.SIGKILL {
				// A killed build leaves its RUN container running and its
				// snapshot mounted: system check --repair stops and removes
				// them (as the next build would).
				h.must(nil, "system", "check", "--repair")
				if ps, _ := exec.Command("pgrep", "-f", fmt.Sprintf("started-%d && sleep 600", sig)).Output(); len(ps) > 0 {
					t.Fatalf("the killed build's RUN still runs after repair: pids %s", ps)
				}
				if mps, _ := mount.MountPoints(filepath.Join(h.root, "build")); len(mps) > 0 {
					t.Fatalf("the killed build's snapshot is still mounted after repair: %v", mps)
				}
			}
			reclaimed(t, h)
			intact(t, h, reg, "copied")
			intact(t, h, reg, "busybox")
		})
	}
}

// TestFailedCommitKeepsExistingImage: a second commit of a container
// writes the very layer blob the first commit's image holds, then fails on
// an invalid --change.
func TestFailedCommitKeepsExistingImage(t *testing.T) {
	h, _, reg, _ := rollbackEnv(t)
	h.must(nil, "run", "--name", "src", "--network", "none", "busybox", "sh", "-c", "echo committed > /c")
	h.must(nil, "commit", "src", "committed:1")
	_, errOut, code := h.run(nil, "commit", "-c", "EXPOSE notaport", "src", "committed:2")
	if code == 0 {
		t.Fatal("commit with an invalid change succeeded")
	}
	t.Logf("commit: %s", strings.TrimSpace(errOut))
	if _, _, code := h.run(nil, "image", "inspect", "committed:2"); code == 0 {
		t.Fatal("the failed commit made an image")
	}
	h.must(nil, "rm", "src")
	reclaimed(t, h)
	intact(t, h, reg, "committed:1")
	intact(t, h, reg, "busybox")
}

func TestFailedTagKeepsExistingImage(t *testing.T) {
	h, _, reg, _ := rollbackEnv(t)
	for _, bad := range []string{"UPPER:tag", "busybox:" + strings.Repeat("t", 129), "a//b", "busybox@sha256:00"} {
		if _, errOut, code := h.run(nil, "tag", "busybox", bad); code == 0 || errOut == "" {
			t.Fatalf("tag busybox %s: exit %d %q", bad, code, errOut)
		}
	}
	reclaimed(t, h)
	intact(t, h, reg, "busybox")
	if out := h.must(nil, "images", "--format", "{{.Repository}}:{{.Tag}}"); out != "busybox:latest\n" {
		t.Fatalf("images after the failed tags: %q", out)
	}
}

// cuttingProxy forwards to a registry; the first upload request (PATCH or
// PUT with a body) of the repository cut is sent on with half its body,
// then both connections are closed: the registry sees a client vanish
// mid-upload, the client a connection reset.
type cuttingProxy struct {
	rp      *httputil.ReverseProxy
	cut     string
	mu      sync.Mutex
	done    bool
	cutOnce chan struct{}
}

var errCut = errors.New("connection cut by the test")

func newCuttingProxy(t *testing.T, reg, repo string) *cuttingProxy {
	u, _ := url.Parse("http://" + reg)
	p := &cuttingProxy{rp: httputil.NewSingleHostReverseProxy(u), cut: "/v2/" + repo + "/blobs/uploads/", cutOnce: make(chan struct{})}
	p.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if conn, _, herr := http.NewResponseController(w).Hijack(); herr == nil {
			conn.Close()
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	return p
}

func (p *cuttingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	cut := !p.done && (r.Method == "PATCH" || r.Method == "PUT") && strings.HasPrefix(r.URL.Path, p.cut) && r.ContentLength > 1024
	if cut {
		p.done = true
		close(p.cutOnce)
	}
	p.mu.Unlock()
	if cut {
		r.Body = io.NopCloser(io.MultiReader(io.LimitReader(r.Body, r.ContentLength/2), errReader{}))
	}
	p.rp.ServeHTTP(w, r)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errCut }

// TestInterruptedPushKeepsRegistryImage: the registry holds busybox (pushed
// as rb/a:1). Another root pushes the same layer to another repository
// (no mount: it never pulled it), and the connection is cut mid-upload of
// that shared blob; the registry is then garbage-collected with
// --delete-untagged while rb/a:1 is tagged. The registry's image still
// pulls and runs, and the local image still pushes.
func TestInterruptedPushKeepsRegistryImage(t *testing.T) {
	h, ctxDir, reg, regRoot := rollbackEnv(t)
	h.must(nil, "tag", "busybox", reg+"/rb/a:1")
	h.must(nil, "push", "-q", reg+"/rb/a:1")
	shared, _ := registryManifest(t, reg, "rb/a", "1")

	p := newCuttingProxy(t, reg, "rb/b")
	srv := &http.Server{Handler: p}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	via := ln.Addr().String()

	other := hoistRunner{t: t, bin: h.bin, root: t.TempDir()}
	t.Cleanup(func() { waitMonitors(t, other.root) })
	other.must(busyboxTar(t), "import", "-c", `CMD ["sh"]`, "-", via+"/rb/b:1")
	out, errOut, code := other.run(nil, "push", via+"/rb/b:1")
	select {
	case <-p.cutOnce:
	default:
		t.Fatalf("no upload was cut (push exit %d)\n%s%s", code, out, errOut)
	}
	// The client resumes from the registry's offset: the push completes
	// and the shared blob is in rb/b.
	if code != 0 {
		t.Fatalf("push through the cut: exit %d\n%s%s", code, out, errOut)
	}
	if got, _ := registryManifest(t, reg, "rb/b", "1"); got[0] != shared[0] {
		t.Fatalf("rb/b:1 layer %s, rb/a:1 layer %s", got[0], shared[0])
	}
	registryServes(t, h, reg, "rb/a:1")

	// GC: rb/c:1 is pushed, then its tag moved to another image; the
	// untagged manifest and its own layer go, the shared layer stays.
	df := filepath.Join(t.TempDir(), "Dockerfile")
	os.WriteFile(df, []byte("FROM busybox\nCOPY hello.txt /\n"), 0o644)
	h.must(nil, "build", "-q", "-f", df, "-t", reg+"/rb/c:1", ctxDir)
	h.must(nil, "push", "-q", reg+"/rb/c:1")
	untagged, _ := registryManifest(t, reg, "rb/c", "1")
	h.must(tarWithFile(t, nil, "moved", "the tag moved here\n"), "import", "-", reg+"/rb/c:1")
	h.must(nil, "push", "-q", reg+"/rb/c:1")
	gc := hoistRunner{t: t, bin: h.bin, root: regRoot}.must(nil, "registry", "gc", "--delete-untagged", "--grace", "0s", "--upload-max-age", "0s")
	t.Logf("registry gc:\n%s", gc)
	if _, err := os.Stat(filepath.Join(regRoot, "blobs", "sha256", strings.TrimPrefix(untagged[1], "sha256:"))); !os.IsNotExist(err) {
		t.Fatalf("gc kept the layer only an untagged manifest named (%v):\n%s", err, gc)
	}
	if _, err := os.Stat(filepath.Join(regRoot, "blobs", "sha256", strings.TrimPrefix(shared[0], "sha256:"))); err != nil {
		t.Fatalf("gc removed the shared layer: %v\n%s", err, gc)
	}
	registryServes(t, h, reg, "rb/a:1")
	intact(t, h, reg, "busybox")
}

// registryServes: repo:tag pulls into a fresh root and runs there, and the
// local image of that name pushes again.
func registryServes(t *testing.T, h hoistRunner, reg, ref string) {
	t.Helper()
	fresh := hoistRunner{t: t, bin: h.bin, root: t.TempDir()}
	t.Cleanup(func() { waitMonitors(t, fresh.root) })
	fresh.must(nil, "pull", "-q", reg+"/"+ref)
	if out := fresh.must(nil, "run", "--rm", "--network", "none", reg+"/"+ref, "echo", "alive"); out != "alive\n" {
		t.Fatalf("run of the pulled %s: %q", ref, out)
	}
	fresh.checkNoLeftover("after pulling " + ref)
	h.must(nil, "push", "-q", reg+"/"+ref)
}
