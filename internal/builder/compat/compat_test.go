package compat

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hoistproject/hoist/internal/archive"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/expected.json from hoist's results")

// caseSpec is testdata/<case>/case.json.
type caseSpec struct {
	// Bases lists the base images the case uses: "busybox" (default) and/or "minbase".
	Bases []string `json:"bases,omitempty"`
	// BuildArgs are --build-arg values; the value "$PARENT" is replaced by the
	// tag of the case's last pre-build, "$HTTP" by the URL of the suite's
	// HTTP server (/file.txt, /archive.tar.gz).
	BuildArgs map[string]string `json:"buildArgs,omitempty"`
	Target    string            `json:"target,omitempty"`
	// Labels are --label values of the main build.
	Labels map[string]string `json:"labels,omitempty"`
	// Secrets maps a secret id to a file in the case directory (--secret id=,src=).
	Secrets map[string]string `json:"secrets,omitempty"`
	// BuildKit says the Dockerfile needs BuildKit (heredocs, --mount, --link,
	// --parents, --exclude, --chmod, predefined platform ARGs): docker's
	// classic builder cannot build it, so without buildx it is compared only
	// with expected.json. The value is the reason.
	BuildKit string `json:"buildkit,omitempty"`
	// Pre are Dockerfiles (in the case dir) built first, in order, with the
	// same context; their tags reach the main build as --build-arg PARENT.
	Pre []string `json:"pre,omitempty"`
	// IgnoreConfig and IgnorePaths exclude a config field / a path ("/x/":
	// and what is below it) from the docker comparison, each with its reason.
	IgnoreConfig map[string]string `json:"ignoreConfig,omitempty"`
	IgnorePaths  map[string]string `json:"ignorePaths,omitempty"`
}

// imageConfig holds the config fields the suite compares.
type imageConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	OnBuild      []string            `json:"OnBuild,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	Healthcheck  *healthcheck        `json:"Healthcheck,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

type healthcheck struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// golden is testdata/<case>/expected.json.
type golden struct {
	Config imageConfig `json:"config"`
	// Changes are the file tree's differences from the base image (of the
	// case's bases, the one with the fewest differences): "+ "
	// and a listing line for an added or changed entry, "- path" for a
	// removed one.
	Changes []string `json:"changes"`
}

// result is one built image, flattened.
type result struct {
	config  imageConfig
	listing map[string]string // path -> listing line
}

// suite is the state shared by every case.
type suite struct {
	bin    string
	dir    string // scratch dir for the whole run
	runID  string
	docker bool
	bkit   bool // docker has buildx: build with BuildKit

	mu     sync.Mutex
	bases  map[string]*base
	dimgs  []string // docker images to remove at the end
	dloads map[string]error

	httpURL string
}

type base struct {
	once    sync.Once
	err     error
	skip    string
	tar     string            // hoist save of the base image
	listing map[string]string // flattened
}

// baseRef names a base image for this run: the Dockerfiles say
// hoist-compat/<base>, rewritten (rewrite) to a name of the run's own, so
// that concurrent runs on one docker engine never share a tag.
func (s *suite) baseRef(name string) string {
	return "hoist-compat-" + s.runID + "/" + name + ":latest"
}

// rewrite replaces the corpus's base names by this run's.
func (s *suite) rewrite(text string) string {
	return strings.ReplaceAll(text, "hoist-compat/", "hoist-compat-"+s.runID+"/")
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func TestCompat(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the compatibility suite needs root (overlay mounts, runc, chown)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed (/bin/busybox)")
	}
	if testing.Short() {
		t.Skip("-short: the compatibility suite builds ~40 images")
	}
	s := &suite{bases: map[string]*base{}, dloads: map[string]error{}}
	s.dir = t.TempDir()
	s.bin = hoistBinary(t, s.dir)
	id := make([]byte, 4)
	rand.Read(id)
	s.runID = hex.EncodeToString(id)
	// HOIST_COMPAT_DOCKER=0 checks against the golden files only.
	s.docker = os.Getenv("HOIST_COMPAT_DOCKER") != "0" && dockerAvailable()
	if s.docker {
		s.bkit = exec.Command("docker", "buildx", "version").Run() == nil
		t.Cleanup(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if os.Getenv("HOIST_COMPAT_KEEP") != "" {
				t.Logf("HOIST_COMPAT_KEEP: docker images kept: %v", s.dimgs)
				return
			}
			// Newest first: a base goes after the images built on it.
			for i := len(s.dimgs) - 1; i >= 0; i-- {
				if strings.HasPrefix(s.dimgs[i], "sha256:") {
					// The classic builder's images of non-target stages
					// are untagged children of the base.
					removeDescendants(s.dimgs[i])
				}
				exec.Command("docker", "rmi", "-f", s.dimgs[i]).Run()
			}
		})
	} else {
		t.Log("no docker engine answers: comparing with expected.json only")
	}

	// ADD <url> cases fetch from here ($HTTP in buildArgs); 127.0.0.1 only.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lm := time.Unix(1600000000, 0).UTC().Format(http.TimeFormat)
		switch r.URL.Path {
		case "/file.txt":
			w.Header().Set("Last-Modified", lm)
			io.WriteString(w, "remote content\n")
		case "/archive.tar.gz":
			w.Header().Set("Last-Modified", lm)
			w.Write(gz(mkTar(sampleTar...)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	s.httpURL = srv.URL

	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	sem := make(chan struct{}, 2)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			s.runCase(t, name)
		})
	}
}

// removeDescendants removes the docker images whose parent chain leads to
// id, leaves first.
func removeDescendants(id string) {
	out, err := exec.Command("docker", "image", "ls", "-a", "-q", "--no-trunc").Output()
	if err != nil {
		return
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return
	}
	// Images another process removes meanwhile make inspect fail; the
	// others are still listed.
	out, _ = exec.Command("docker", append([]string{"image", "inspect", "-f", "{{.Id}} {{.Parent}}"}, ids...)...).Output()
	children := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			children[f[1]] = append(children[f[1]], f[0])
		}
	}
	var walk func(string)
	walk = func(p string) {
		for _, c := range children[p] {
			walk(c)
			exec.Command("docker", "rmi", "-f", c).Run()
		}
	}
	walk(id)
}

func dockerAvailable() bool {
	if _, err := exec.LookPath("docker"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info").Run() == nil
}

// hoistBinary returns $HOIST_BIN or builds cmd/hoist into dir.
func hoistBinary(t *testing.T, dir string) string {
	if b := os.Getenv("HOIST_BIN"); b != "" {
		return b
	}
	_, file, _, _ := runtime.Caller(0)
	top := filepath.Join(filepath.Dir(file), "..", "..", "..")
	bin := filepath.Join(dir, "hoist")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hoist")
	cmd.Dir = top
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building hoist: %v\n%s", err, out)
	}
	return bin
}

func (s *suite) runCase(t *testing.T, name string) {
	cdir := filepath.Join("testdata", name)
	var spec caseSpec
	if b, err := os.ReadFile(filepath.Join(cdir, "case.json")); err == nil {
		if err := json.Unmarshal(b, &spec); err != nil {
			t.Fatalf("%s/case.json: %v", cdir, err)
		}
	}
	if len(spec.Bases) == 0 {
		spec.Bases = []string{"busybox"}
	}
	var bases []*base
	for _, b := range spec.Bases {
		bs := s.base(t, b)
		if bs.skip != "" {
			t.Skip(bs.skip)
		}
		bases = append(bases, bs)
	}

	work := t.TempDir()
	ctxDir := filepath.Join(work, "ctx")
	if err := copyTree(filepath.Join(cdir, "ctx"), ctxDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	os.MkdirAll(ctxDir, 0o755)
	setupCtx(t, name, ctxDir)

	// hoist
	root := filepath.Join(work, "root")
	h := hoistRunner{t: t, bin: s.bin, root: root}
	for _, b := range bases {
		h.must("load", "-q", "-i", b.tar)
	}
	t.Cleanup(func() { cleanupMounts(root) })
	hres, err := s.buildAll(t, cdir, ctxDir, spec, "hoist", func(args []string) (string, error) {
		return h.run(append([]string{"build", "--progress", "plain"}, args...)...)
	}, func(tag, out string) (string, error) {
		_, err := h.run("save", "-o", out, tag)
		return out, err
	})
	if err != nil {
		t.Fatal(err)
	}
	// golden: the changes from the base the final stage most resembles
	got := golden{Config: hres.config, Changes: changes(nil, hres.listing)} // scratch
	for _, b := range bases {
		c := changes(b.listing, hres.listing)
		if len(c) < len(got.Changes) {
			got = golden{Config: hres.config, Changes: c}
		}
	}
	gpath := filepath.Join(cdir, "expected.json")

	// docker
	compared := false
	if s.docker && (spec.BuildKit == "" || s.bkit) {
		for _, b := range spec.Bases {
			if err := s.dockerLoad(b); err != nil {
				t.Fatalf("docker load of the %s base: %v", b, err)
			}
		}
		// The classic builder is the reference; BuildKit (buildx) builds
		// only the cases the classic builder cannot: docker 20.10's BuildKit
		// is v0.8, which left mount stubs in layers and no primary gid in
		// RUN's groups, bugs BuildKit has since fixed and hoist follows.
		bkit := spec.BuildKit != ""
		env := []string{"DOCKER_BUILDKIT=0"}
		if bkit {
			env = []string{"DOCKER_BUILDKIT=1"}
		}
		dres, err := s.buildAll(t, cdir, ctxDir, spec, "docker", func(args []string) (string, error) {
			cmd := exec.Command("docker", append([]string{"build", "--network", "host", "--force-rm"}, args...)...)
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}, func(tag, out string) (string, error) {
			b, err := exec.Command("docker", "save", "-o", out, tag).CombinedOutput()
			if err != nil {
				return "", fmt.Errorf("%v: %s", err, b)
			}
			return out, nil
		})
		switch {
		case err != nil && bkit:
			// The daemon's BuildKit frontend may predate the syntax.
			t.Logf("docker's BuildKit cannot build this case, comparing with expected.json only: %s", firstErrorLine(err))
		case err != nil:
			t.Fatal(err)
		default:
			if diff := compareResults(hres, dres, spec, bkit); diff != "" {
				t.Errorf("hoist and docker differ (- hoist, + docker):\n%s", diff)
			}
			compared = true
		}
	} else if spec.BuildKit != "" && s.docker {
		t.Logf("not built by docker: needs BuildKit (%s) and the buildx plugin is missing", spec.BuildKit)
	}

	if *update {
		if t.Failed() {
			t.Logf("not updating %s: the case failed", gpath)
			return
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // "->" stays readable
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(gpath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if !compared {
			t.Logf("%s written without a docker comparison: review it by eye", gpath)
		}
		return
	}
	b, err := os.ReadFile(gpath)
	if err != nil {
		if compared {
			t.Logf("no %s (run with -update)", gpath)
			return
		}
		t.Fatalf("no %s and no docker to compare with (run with -update where docker answers)", gpath)
	}
	var want golden
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", gpath, err)
	}
	if d := diffConfig(want.Config, got.Config, nil); d != "" {
		t.Errorf("config differs from %s (- expected, + hoist):\n%s", gpath, d)
	}
	if d := diffLines(want.Changes, got.Changes); d != "" {
		t.Errorf("file tree differs from %s (- expected, + hoist):\n%s", gpath, d)
	}
}

// buildAll runs the case's pre-builds and main build with one engine and
// flattens the final image.
func (s *suite) buildAll(t *testing.T, cdir, ctxDir string, spec caseSpec, engine string,
	build func(args []string) (string, error), save func(tag, out string) (string, error)) (result, error) {
	t.Helper()
	work := t.TempDir()
	prefix := "hoist-compat-" + strings.ToLower(filepath.Base(cdir)) + "-" + engine
	var parent, tag string
	dfs := append(append([]string{}, spec.Pre...), "Dockerfile")
	for i, df := range dfs {
		tag = fmt.Sprintf("%s-%d:%s", prefix, i, s.runID)
		text, err := os.ReadFile(filepath.Join(cdir, df))
		if err != nil {
			t.Fatal(err)
		}
		dfPath := filepath.Join(work, strings.ReplaceAll(df, "/", "_"))
		if err := os.WriteFile(dfPath, []byte(s.rewrite(string(text))), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-t", tag, "-f", dfPath}
		keys := make([]string, 0, len(spec.BuildArgs))
		for k := range spec.BuildArgs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := spec.BuildArgs[k]
			if v == "$PARENT" {
				v = parent
			}
			v = s.rewrite(strings.ReplaceAll(v, "$HTTP", s.httpURL))
			args = append(args, "--build-arg", k+"="+v)
		}
		if parent != "" && spec.BuildArgs["PARENT"] == "" {
			args = append(args, "--build-arg", "PARENT="+parent)
		}
		if df == "Dockerfile" && spec.Target != "" {
			args = append(args, "--target", spec.Target)
		}
		if df == "Dockerfile" {
			lk := make([]string, 0, len(spec.Labels))
			for k := range spec.Labels {
				lk = append(lk, k)
			}
			sort.Strings(lk)
			for _, k := range lk {
				args = append(args, "--label", k+"="+spec.Labels[k])
			}
		}
		for id, src := range spec.Secrets {
			abs, _ := filepath.Abs(filepath.Join(cdir, src))
			args = append(args, "--secret", "id="+id+",src="+abs)
		}
		args = append(args, ctxDir)
		if engine == "docker" {
			s.mu.Lock()
			s.dimgs = append(s.dimgs, tag)
			s.mu.Unlock()
		}
		out, err := build(args)
		if err != nil {
			return result{}, fmt.Errorf("%s build %s: %v\n%s", engine, df, err, out)
		}
		parent = tag
	}
	saved, err := save(tag, filepath.Join(work, "image.tar"))
	if err != nil {
		t.Fatalf("%s save %s: %v", engine, tag, err)
	}
	res, err := flatten(saved, filepath.Join(work, "rootfs"))
	if err != nil {
		t.Fatalf("flattening the %s image: %v", engine, err)
	}
	return res, nil
}

// base imports a base image once into a template root and saves it.
func (s *suite) base(t *testing.T, name string) *base {
	s.mu.Lock()
	b := s.bases[name]
	if b == nil {
		b = &base{}
		s.bases[name] = b
	}
	s.mu.Unlock()
	b.once.Do(func() {
		dir := filepath.Join(s.dir, "base-"+name)
		os.MkdirAll(dir, 0o755)
		var rootfsTar string
		switch name {
		case "busybox":
			rootfsTar = filepath.Join(dir, "rootfs.tar")
			b.err = os.WriteFile(rootfsTar, busyboxTar(), 0o644)
		case "minbase":
			rootfsTar, b.skip = minbaseTar()
		default:
			b.err = fmt.Errorf("unknown base %q", name)
		}
		if b.err != nil || b.skip != "" {
			return
		}
		root := filepath.Join(dir, "root")
		h := hoistRunner{t: t, bin: s.bin, root: root}
		if _, b.err = h.run("import", "-c", "ENV "+defaultPath, "-c", `CMD ["/bin/sh"]`, rootfsTar, s.baseRef(name)); b.err != nil {
			return
		}
		b.tar = filepath.Join(dir, "image.tar")
		if _, b.err = h.run("save", "-o", b.tar, s.baseRef(name)); b.err != nil {
			return
		}
		var res result
		res, b.err = flatten(b.tar, filepath.Join(dir, "flat"))
		b.listing = res.listing
		os.RemoveAll(filepath.Join(dir, "flat"))
		os.RemoveAll(root)
	})
	if b.err != nil {
		t.Fatalf("base image %s: %v", name, b.err)
	}
	return b
}

func (s *suite) dockerLoad(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err, ok := s.dloads[name]; ok {
		return err
	}
	out, err := exec.Command("docker", "load", "-q", "-i", s.bases[name].tar).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%v: %s", err, out)
	}
	s.dloads[name] = err
	// Removed by ID at the end: another run may have moved the tag to its
	// own copy meanwhile.
	if id, ierr := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", s.baseRef(name)).Output(); ierr == nil {
		s.dimgs = append(s.dimgs, strings.TrimSpace(string(id)))
	}
	return err
}

// minbaseTar returns the debian minbase rootfs tarball, making it with
// debootstrap when it is not cached, or a reason to skip.
func minbaseTar() (string, string) {
	cache := os.Getenv("BENCH_CACHE")
	if cache == "" {
		cache = "/var/cache/hoist-bench"
	}
	p := filepath.Join(cache, "minbase.tar")
	if _, err := os.Stat(p); err == nil {
		return p, ""
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", "debootstrap not installed and no cached " + p + ": skipping the debian minbase cases"
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "bench", "fixtures.sh")
	if out, err := exec.Command("bash", script).CombinedOutput(); err != nil {
		return "", fmt.Sprintf("making %s with debootstrap failed (%v): skipping the debian minbase cases\n%s", p, err, out)
	}
	return p, ""
}

// busyboxTar is a busybox root filesystem from /bin/busybox, with users and
// groups for the --chown cases.
func busyboxTar() []byte {
	bb, _ := os.ReadFile("/bin/busybox")
	list, _ := exec.Command("/bin/busybox", "--list-full").Output()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mt := time.Unix(1700000000, 0)
	dirs := map[string]bool{}
	mkdir := func(d string, mode int64) {
		if !dirs[d] {
			dirs[d] = true
			tw.WriteHeader(&tar.Header{Name: d + "/", Mode: mode, Typeflag: tar.TypeDir, ModTime: mt})
		}
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "var", "var/lib", "home", "home/app"} {
		mkdir(d, 0o755)
	}
	mkdir("tmp", 0o1777)
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb)), Typeflag: tar.TypeReg, ModTime: mt})
	tw.Write(bb)
	for _, app := range strings.Fields(string(list)) {
		if app == "bin/busybox" {
			continue
		}
		mkdir(path.Dir(app), 0o755)
		tw.WriteHeader(&tar.Header{Name: app, Linkname: "/bin/busybox", Typeflag: tar.TypeSymlink, Mode: 0o777, ModTime: mt})
	}
	file := func(name, data string, mode int64) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: mt})
		tw.Write([]byte(data))
	}
	file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", 0o644)
	file("etc/group", "root:x:0:\nstaff:x:50:\napp:x:1001:\nnogroup:x:65534:\n", 0o644)
	file("etc/os-release", "NAME=hoist-compat-busybox\n", 0o644)
	tw.WriteHeader(&tar.Header{Name: "home/app/.profile", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg, ModTime: mt, Uid: 1000, Gid: 1001})
	tw.Write([]byte("#!\n"))
	tw.Close()
	return b.Bytes()
}

// flatten applies the layers of a saved image (docker-archive) in order onto
// dir and lists the result.
func flatten(savedTar, dir string) (result, error) {
	ctx := context.Background()
	var res result
	f, err := os.Open(savedTar)
	if err != nil {
		return res, err
	}
	defer f.Close()
	// Copy the members out (layers can be large: to files).
	members := filepath.Join(filepath.Dir(dir), "members")
	if err := os.MkdirAll(members, 0o755); err != nil {
		return res, err
	}
	defer os.RemoveAll(members)
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		p := filepath.Join(members, filepath.FromSlash(path.Clean("/"+hdr.Name)))
		os.MkdirAll(filepath.Dir(p), 0o755)
		out, err := os.Create(p)
		if err != nil {
			return res, err
		}
		_, err = io.Copy(out, tr)
		out.Close()
		if err != nil {
			return res, err
		}
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	b, err := os.ReadFile(filepath.Join(members, "manifest.json"))
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		return res, err
	}
	if len(manifest) != 1 {
		return res, fmt.Errorf("manifest.json has %d images", len(manifest))
	}
	var cfg struct {
		Config imageConfig `json:"config"`
	}
	b, err = os.ReadFile(filepath.Join(members, filepath.FromSlash(manifest[0].Config)))
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return res, fmt.Errorf("config %s: %w", manifest[0].Config, err)
	}
	res.config = cfg.Config
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	for _, l := range manifest[0].Layers {
		lf, err := os.Open(filepath.Join(members, filepath.FromSlash(l)))
		if err != nil {
			return res, err
		}
		dec, _, err := archive.DecompressStream(lf)
		if err == nil {
			_, err = archive.Apply(ctx, dir, dec, archive.ApplyOptions{})
			dec.Close()
		}
		lf.Close()
		if err != nil {
			return res, fmt.Errorf("applying layer %s: %w", l, err)
		}
	}
	res.listing, err = list(dir)
	os.RemoveAll(dir)
	return res, err
}

// runtimeFiles are docker's own files in a container's rootfs.
var runtimeFiles = map[string]bool{"/etc/hosts": true, "/etc/hostname": true, "/etc/resolv.conf": true, "/.dockerenv": true}

// list walks dir into listing lines keyed by path: "path type mode uid:gid",
// then for regular files "size sha256[:16]", for symlinks "-> target", for
// the second and later names of a hardlinked file "=> first name". No
// timestamps; directory sizes are the file system's, so not listed.
func list(dir string) (map[string]string, error) {
	out := map[string]string{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + filepath.ToSlash(strings.TrimPrefix(p, dir))
		rel = path.Clean(rel)
		if rel == "/" {
			return nil
		}
		if runtimeFiles[rel] {
			return nil
		}
		switch path.Dir(rel) {
		case "/proc", "/sys", "/dev":
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		typ := "?"
		switch fi.Mode().Type() {
		case 0:
			typ = "f"
		case fs.ModeDir:
			typ = "d"
		case fs.ModeSymlink:
			typ = "l"
		case fs.ModeNamedPipe:
			typ = "p"
		case fs.ModeSocket:
			typ = "s"
		case fs.ModeDevice:
			typ = "b"
		case fs.ModeDevice | fs.ModeCharDevice:
			typ = "c"
		}
		line := fmt.Sprintf("%q %s", rel, typ)
		if typ != "l" {
			line += fmt.Sprintf(" %04o", st.Mode&0o7777)
		}
		line += fmt.Sprintf(" %d:%d", st.Uid, st.Gid)
		switch typ {
		case "f":
			if first, ok := inodes[st.Ino]; ok && st.Nlink > 1 {
				line += " => " + strconvQuote(first)
				break
			}
			if st.Nlink > 1 {
				inodes[st.Ino] = rel
			}
			sum, text, err := fileSHA(p)
			if err != nil {
				return err
			}
			if text != "" {
				sum = text // small text: readable in golden files and diffs
			}
			line += fmt.Sprintf(" %d %s", fi.Size(), sum)
		case "l":
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + strconvQuote(target)
		case "c", "b":
			line += fmt.Sprintf(" %d,%d", unixMajor(st.Rdev), unixMinor(st.Rdev))
		}
		out[rel] = line
		return nil
	})
	return out, err
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

func unixMajor(d uint64) uint64 { return (d >> 8) & 0xfff }
func unixMinor(d uint64) uint64 { return (d & 0xff) | ((d >> 12) & 0xfff00) }

// fileSHA returns the first 16 hex digits of the file's sha256 and, for a
// small text file, its content quoted.
func fileSHA(p string) (string, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	h := sha256.New()
	var head bytes.Buffer
	n, err := io.Copy(io.MultiWriter(h, &limitedBuffer{b: &head, n: 81}), f)
	if err != nil {
		return "", "", err
	}
	text := ""
	if n <= 80 && utf8.Valid(head.Bytes()) && !bytes.ContainsFunc(head.Bytes(), func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\t'
	}) {
		text = strconvQuote(head.String())
	}
	return hex.EncodeToString(h.Sum(nil))[:16], text, nil
}

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		l.b.Write(p[:room])
	}
	return len(p), nil
}

// changes lists the differences of got from base, sorted by path.
func changes(base, got map[string]string) []string {
	var out []string
	for p, l := range got {
		if base[p] != l {
			out = append(out, "+ "+l)
		}
	}
	for p := range base {
		if _, ok := got[p]; !ok {
			out = append(out, "- "+strconvQuote(p))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][2:] < out[j][2:] })
	if out == nil {
		out = []string{}
	}
	return out
}

func ignoredPath(p string, ignore map[string]string) bool {
	for q := range ignore {
		// "/x" excludes that path, "/x/" the path and what is below it.
		if p == strings.TrimSuffix(q, "/") || (strings.HasSuffix(q, "/") && strings.HasPrefix(p, q)) {
			return true
		}
	}
	return false
}

// compareResults describes every difference between hoist's and docker's
// image, "" when they are equal (after the case's exclusions).
func compareResults(h, d result, spec caseSpec, bkit bool) string {
	var b strings.Builder
	b.WriteString(diffConfig(h.config, d.config, spec.IgnoreConfig))
	var paths []string
	seen := map[string]bool{}
	for p := range h.listing {
		paths = append(paths, p)
		seen[p] = true
	}
	for p := range d.listing {
		if !seen[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if ignoredPath(p, spec.IgnorePaths) {
			continue
		}
		hl, hok := h.listing[p]
		dl, dok := d.listing[p]
		if bkit && !hok && isStub(d.listing, p) {
			continue // an empty mount point old BuildKit left in the layer
		}
		switch {
		case !dok:
			fmt.Fprintf(&b, "  file - %s\n", hl)
		case !hok:
			fmt.Fprintf(&b, "  file + %s\n", dl)
		case hl != dl:
			fmt.Fprintf(&b, "  file - %s\n  file + %s\n", hl, dl)
		}
	}
	return b.String()
}

// isStub reports whether p is an empty root-owned directory in listing
// (nothing below it): what runc creates for a mount point.
func isStub(listing map[string]string, p string) bool {
	if !strings.HasSuffix(listing[p], " d 0755 0:0") {
		return false
	}
	for q := range listing {
		if strings.HasPrefix(q, p+"/") && !isStub(listing, q) {
			return false
		}
	}
	return true
}

func firstErrorLine(err error) string {
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "error") {
			return strings.TrimSpace(l)
		}
	}
	return strings.SplitN(err.Error(), "\n", 2)[0]
}

// diffConfig compares the checked config fields one by one.
func diffConfig(a, b imageConfig, ignore map[string]string) string {
	am, bm := fieldMap(a), fieldMap(b)
	var keys []string
	for k := range am {
		keys = append(keys, k)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out strings.Builder
	for _, k := range keys {
		if _, ok := ignore[k]; ok {
			continue
		}
		if !bytes.Equal(am[k], bm[k]) {
			fmt.Fprintf(&out, "  config.%s: - %s\n  config.%s: + %s\n", k, orNull(am[k]), k, orNull(bm[k]))
		}
	}
	return out.String()
}

func orNull(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
}

func fieldMap(c imageConfig) map[string]json.RawMessage {
	b, _ := json.Marshal(c)
	m := map[string]json.RawMessage{}
	json.Unmarshal(b, &m)
	out := map[string]json.RawMessage{}
	for k, v := range m {
		// empty lists and maps are absent, as docker (null vs [] vs {}).
		if s := string(v); s == "[]" || s == "{}" || s == "null" || s == `""` {
			continue
		}
		out[k] = v
	}
	return out
}

func diffLines(want, got []string) string {
	w := map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	g := map[string]bool{}
	for _, l := range got {
		g[l] = true
	}
	var out strings.Builder
	for _, l := range want {
		if !g[l] {
			fmt.Fprintf(&out, "  - %s\n", l)
		}
	}
	for _, l := range got {
		if !w[l] {
			fmt.Fprintf(&out, "  + %s\n", l)
		}
	}
	return out.String()
}

// copyTree copies the case's checked-in context, with modes normalized
// (0755 for executables and dirs, else 0644; whatever the checkout's umask).
func copyTree(src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if err := os.MkdirAll(t, 0o755); err != nil {
				return err
			}
			return os.Chmod(t, 0o755)
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, t)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if fi.Mode()&0o100 != 0 {
				mode = 0o755
			}
			if err := os.WriteFile(t, b, mode); err != nil {
				return err
			}
			return os.Chmod(t, mode)
		}
	})
}

type hoistRunner struct {
	t    *testing.T
	bin  string
	root string
}

func (h hoistRunner) run(args ...string) (string, error) {
	cmd := exec.Command(h.bin, append([]string{"--root", h.root}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("hoist %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (h hoistRunner) must(args ...string) string {
	h.t.Helper()
	out, err := h.run(args...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// cleanupMounts unmounts whatever a failed build left below root.
func cleanupMounts(root string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], root+"/") {
			mps = append(mps, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mps)))
	for _, mp := range mps {
		syscall.Unmount(mp, syscall.MNT_DETACH)
	}
}
