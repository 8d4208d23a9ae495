package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"github.com/hoistproject/hoist/internal/builder/runc"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/testutil"
)

// Integration tests: real image store, layer store, overlay mounts and runc
// on a busybox base made from /bin/busybox.

type realEnv struct {
	root string
	st   *images.Store
	b    *Builder
}

func newRealEnv(t *testing.T) *realEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration build tests need root (overlay mounts, runc)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed")
	}
	root := t.TempDir()
	t.Cleanup(func() {
		mps, _ := mount.MountPoints(root)
		for i := len(mps) - 1; i >= 0; i-- {
			mount.UnmountAll(mps[i])
		}
		if len(mps) > 0 {
			t.Errorf("leaked mounts: %v", mps)
		}
	})
	tarPath := filepath.Join(t.TempDir(), "busybox.tar")
	if out, err := exec.Command("bash", "../../scripts/mkbusybox.sh", tarPath).CombinedOutput(); err != nil {
		t.Fatalf("mkbusybox: %v\n%s", err, out)
	}
	st, err := images.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := st.Import(context.Background(), f, images.ImportOptions{Name: "busybox:latest", Changes: []string{`CMD ["sh"]`}}); err != nil {
		t.Fatal(err)
	}
	// HOIST_RUNTIME picks the runtime of RUN steps, as hoist's own
	// (the default one when unset).
	b := NewLocal(st, &runc.Runner{Runtime: os.Getenv("HOIST_RUNTIME"), Dir: filepath.Join(root, "build", "runc")})
	return &realEnv{root: root, st: st, b: b}
}

func (e *realEnv) build(t *testing.T, df string, ctxDir string, opts Options) (built, *buildcontext.Context) {
	t.Helper()
	var bc *buildcontext.Context
	if ctxDir != "" {
		var err error
		if bc, err = buildcontext.New(ctxDir, buildcontext.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bc.Close() })
		opts.Context = bc
		if opts.StatCache == nil {
			opts.StatCache = buildcontext.OpenStatCache(filepath.Join(e.root, "build", "statcache"), bc.Dir())
		}
	}
	return doBuild(t, e.b, df, opts), bc
}

// readImageFile reads a file of an image through a read-only view.
func (e *realEnv) readImageFile(t *testing.T, ref, p string) (string, os.FileInfo) {
	t.Helper()
	f, err := e.st.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	dir, release, err := e.b.Snapshots.View(context.Background(), f.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	full := filepath.Join(dir, p)
	fi, err := os.Lstat(full)
	if err != nil {
		return "", nil
	}
	b, _ := os.ReadFile(full)
	return string(b), fi
}

func TestIntegrationBuildRunCopyCache(t *testing.T) {
	e := newRealEnv(t)
	ctxDir := writeCtx(t, map[string]string{"src/a.txt": "alpha", "src/sub/b.txt": "beta", "other.txt": "o"})
	df := `FROM busybox
RUN echo small > /small && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group
COPY src /src
COPY src /usr/newdir/
COPY --chown=app other.txt /home/app/
RUN find /src | wc -l > /count && whoami > /who
USER app
RUN whoami > /tmp/who2; id -u; echo out-line
ENV GREETING=hi
WORKDIR /work/dir
CMD ["sh", "-c", "echo $GREETING"]
`
	r, _ := e.build(t, df, ctxDir, Options{Tags: []string{"test/app:1"}})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	if !strings.Contains(r.out, "out-line") || !strings.Contains(r.out, "1000") {
		t.Errorf("RUN output not shown:\n%s", r.out)
	}
	for p, want := range map[string]string{"small": "small\n", "count": "4\n", "who": "root\n", "tmp/who2": "app\n", "src/sub/b.txt": "beta"} {
		if got, _ := e.readImageFile(t, "test/app:1", p); got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
	if _, fi := e.readImageFile(t, "test/app:1", "home/app/other.txt"); fi == nil || fi.Sys().(*syscall.Stat_t).Uid != 1000 {
		t.Errorf("--chown=app not applied: %v", fi)
	}
	// COPY into a new directory under an existing one (written in the
	// upper dir directly) keeps the existing directory's content and mode.
	if got, _ := e.readImageFile(t, "test/app:1", "usr/newdir/a.txt"); got != "alpha" {
		t.Errorf("/usr/newdir/a.txt = %q", got)
	}
	if _, fi := e.readImageFile(t, "test/app:1", "usr/bin/env"); fi == nil {
		t.Error("/usr/bin/env hidden by COPY into /usr/newdir")
	}
	if _, fi := e.readImageFile(t, "test/app:1", "usr"); fi == nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("/usr mode changed: %v", fi)
	}
	if _, fi := e.readImageFile(t, "test/app:1", "work/dir"); fi == nil || !fi.IsDir() {
		t.Error("WORKDIR not created")
	}
	// /etc/hosts and /etc/resolv.conf mount points never get into layers.
	if _, fi := e.readImageFile(t, "test/app:1", "etc/hosts"); fi != nil {
		t.Error("/etc/hosts leaked into the image")
	}
	if got := len(r.cfg.RootFS.DiffIDs); got != 8 { // base + RUN + COPY*3 + RUN + RUN + WORKDIR
		t.Errorf("%d layers, want 8:\n%q", got, createdBy(r.cfg))
	}

	// No-op rebuild: all cached, same ID, no mount.
	r2, _ := e.build(t, df, ctxDir, Options{Tags: []string{"test/app:1"}})
	if r2.err != nil || r2.res.ID != r.res.ID {
		t.Fatalf("rebuild: %v, id %v vs %v\n%s", r2.err, r2.res, r.res.ID, r2.out)
	}
	if n := len(cachedRe.FindAllString(r2.out, -1)); n != 10 {
		t.Errorf("%d CACHED, want 10:\n%s", n, r2.out)
	}

	// One file changed: COPY and later steps re-run.
	os.WriteFile(filepath.Join(ctxDir, "src/a.txt"), []byte("changed"), 0o644)
	r3, _ := e.build(t, df, ctxDir, Options{Tags: []string{"test/app:2"}})
	if r3.err != nil {
		t.Fatalf("%v\n%s", r3.err, r3.out)
	}
	if !strings.Contains(r3.out, "cache miss: COPY sources changed") {
		t.Errorf("no miss reason:\n%s", r3.out)
	}
	if got, _ := e.readImageFile(t, "test/app:2", "src/a.txt"); got != "changed" {
		t.Errorf("changed file = %q", got)
	}
	left, _ := os.ReadDir(filepath.Join(e.root, "build", "tmp", strconv.Itoa(os.Getpid())))
	if len(left) != 0 {
		t.Errorf("temporary snapshots left: %v", left)
	}
}

func TestIntegrationFailedRunLeavesNothing(t *testing.T) {
	e := newRealEnv(t)
	r, _ := e.build(t, "FROM busybox\nRUN echo partial > /p && echo to-stderr >&2 && exit 7\n", "", Options{Tags: []string{"bad:1"}})
	if r.err == nil || !strings.Contains(r.err.Error(), "returned a non-zero code: 7") {
		t.Fatalf("err = %v", r.err)
	}
	if !strings.Contains(r.out, "to-stderr") {
		t.Errorf("stderr not shown:\n%s", r.out)
	}
	if _, err := e.st.Resolve(context.Background(), "bad:1"); err == nil {
		t.Error("failed build left a tag")
	}
}

func TestIntegrationMultiStageParallelAndScratch(t *testing.T) {
	e := newRealEnv(t)
	df := `FROM busybox AS a
RUN echo A > /a.txt
FROM busybox AS b
RUN echo B > /b.txt
FROM scratch
COPY --from=a /a.txt /a.txt
COPY --from=b /b.txt /bin/sh /out/
`
	r, _ := e.build(t, df, "", Options{Tags: []string{"multi:1"}})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	if got, _ := e.readImageFile(t, "multi:1", "a.txt"); got != "A\n" {
		t.Errorf("a.txt = %q", got)
	}
	if got, _ := e.readImageFile(t, "multi:1", "out/b.txt"); got != "B\n" {
		t.Errorf("out/b.txt = %q", got)
	}
	// /bin/sh is a symlink in busybox: copied as the link.
	if _, fi := e.readImageFile(t, "multi:1", "out/sh"); fi == nil {
		t.Error("out/sh missing")
	}
}

func TestIntegrationConcurrentBuildsOneRoot(t *testing.T) {
	e := newRealEnv(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			df := "FROM busybox\nRUN echo " + strconv.Itoa(i) + " > /n\n"
			var out bytes.Buffer
			_, errs[i] = e.b.Build(context.Background(), Options{Dockerfile: []byte(df), Tags: []string{"conc:" + strconv.Itoa(i)}, Progress: &out})
			outs[i] = out.String()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("build %d: %v\n%s", i, err, outs[i])
		}
	}
}

func TestIntegrationSourceDateEpochSameID(t *testing.T) {
	e := newRealEnv(t)
	ctxDir := writeCtx(t, map[string]string{"f": "x"})
	epoch := time.Unix(1700000000, 0)
	df := "FROM busybox\nRUN echo $RANDOM > /r1 && mkdir -p /d && echo x > /d/f\nCOPY f /f\nENV A=1\n"
	var ids []string
	for i := 0; i < 2; i++ {
		r, _ := e.build(t, strings.Replace(df, "$RANDOM", "same", 1), ctxDir, Options{NoCache: true, SourceDateEpoch: &epoch})
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.out)
		}
		ids = append(ids, r.res.ID.String())
		now := time.Now().Unix() // the next build runs in another wall-clock second
		testutil.WaitFor(t, "the next second", func() bool { return time.Now().Unix() > now })
	}
	if ids[0] != ids[1] {
		t.Errorf("SOURCE_DATE_EPOCH builds differ: %v", ids)
	}
}

func TestIntegrationAddAndRunMounts(t *testing.T) {
	e := newRealEnv(t)
	ctxDir := writeCtx(t, map[string]string{"plain.txt": "p", "secret.txt": "s3cr3t", "bind/x": "bound"})
	// A gzip tar in the context is extracted by ADD (not by COPY).
	tgz := filepath.Join(ctxDir, "arch.tar.gz")
	src := writeCtx(t, map[string]string{"in/one": "1", "two": "2"})
	if out, err := exec.Command("tar", "-C", src, "-czf", tgz, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "remote content") }))
	defer srv.Close()
	sum := sha256.Sum256([]byte("remote content"))
	df := `FROM busybox
ADD arch.tar.gz /x/
COPY arch.tar.gz /y/
ADD --checksum=sha256:` + hex.EncodeToString(sum[:]) + ` ` + srv.URL + `/file.txt /dl/
RUN --mount=type=cache,target=/cache echo run >> /cache/log && cat /cache/log | wc -l > /cachecount
RUN --mount=type=bind,source=bind,target=/mnt cat /mnt/x > /fromBind
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && ls /scratch > /tmpfsls
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /secretcopy
RUN --mount=type=secret,id=tok,env=TOK sh -c 'echo $TOK' > /secretenv
`
	secrets := map[string]string{"tok": filepath.Join(ctxDir, "secret.txt")}
	r, _ := e.build(t, df, ctxDir, Options{Tags: []string{"mounts:1"}, Secrets: secrets})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	checks := map[string]string{
		"x/in/one": "1", "x/two": "2", "dl/file.txt": "remote content", "cachecount": "1\n",
		"fromBind": "bound", "tmpfsls": "t\n", "secretcopy": "s3cr3t", "secretenv": "s3cr3t\n",
	}
	for p, want := range checks {
		if got, _ := e.readImageFile(t, "mounts:1", p); got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
	if _, fi := e.readImageFile(t, "mounts:1", "y/arch.tar.gz"); fi == nil {
		t.Error("COPY extracted the archive")
	}
	if _, fi := e.readImageFile(t, "mounts:1", "scratch/t"); fi != nil {
		t.Error("tmpfs content committed")
	}
	if _, fi := e.readImageFile(t, "mounts:1", "run/secrets/tok"); fi != nil {
		t.Error("secret committed")
	}
	// The cache mount persists: a rebuild without cache sees the first run.
	r2, _ := e.build(t, df, ctxDir, Options{Tags: []string{"mounts:2"}, Secrets: secrets, NoCache: true})
	if r2.err != nil {
		t.Fatalf("%v\n%s", r2.err, r2.out)
	}
	if got, _ := e.readImageFile(t, "mounts:2", "cachecount"); got != "2\n" {
		t.Errorf("cache mount not persistent: %q", got)
	}
	// A wrong checksum fails the build.
	bad := strings.Replace(df, hex.EncodeToString(sum[:]), strings.Repeat("0", 64), 1)
	if r3, _ := e.build(t, bad, ctxDir, Options{Secrets: secrets}); r3.err == nil || !strings.Contains(r3.err.Error(), "digest mismatch") {
		t.Errorf("bad checksum: %v", r3.err)
	}
}

func TestIntegrationRunResources(t *testing.T) {
	e := newRealEnv(t)
	df := "FROM busybox\nRUN ulimit -n > /nofile && df -k /dev/shm | tail -1 | awk '{print $2}' > /shm && cat /etc/hosts > /hosts && ls /proc/self/fd > /fds && pwd > /cwd && (cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes) > /memmax\n"
	r, _ := e.build(t, df, "", Options{Tags: []string{"res:1"}, ExtraHosts: []string{"example.test:10.1.2.3"},
		Resources: Resources{Ulimits: []string{"nofile=512:1024"}, ShmSize: 8 << 20, Memory: 64 << 20}})
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	if got, _ := e.readImageFile(t, "res:1", "nofile"); got != "512\n" {
		t.Errorf("ulimit -n = %q", got)
	}
	if got, _ := e.readImageFile(t, "res:1", "shm"); got != "8192\n" {
		t.Errorf("/dev/shm size = %q KiB", got)
	}
	// Only fds 0-2 reach the step (3 is ls's own directory handle).
	if got, _ := e.readImageFile(t, "res:1", "fds"); got != "0\n1\n2\n3\n" {
		t.Errorf("fds in RUN: %q", got)
	}
	if got, _ := e.readImageFile(t, "res:1", "memmax"); got != "67108864\n" {
		t.Errorf("memory limit in RUN: %q", got)
	}
	if got, _ := e.readImageFile(t, "res:1", "cwd"); got != "/\n" {
		t.Errorf("cwd in RUN: %q", got)
	}
	if got, _ := e.readImageFile(t, "res:1", "hosts"); !strings.Contains(got, "10.1.2.3\texample.test") {
		t.Errorf("--add-host missing from /etc/hosts: %q", got)
	}
	if r2, _ := e.build(t, "FROM busybox\nRUN true\n", "", Options{Resources: Resources{Ulimits: []string{"nofile"}}}); r2.err == nil {
		t.Error("a bad --ulimit was accepted")
	}
}
