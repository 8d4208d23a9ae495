package cli

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/mount"
)

// busyboxTarWith is busyboxTar with a "./" entry of mode rootMode first
// (none when 0) and the extra entries (symlinks, directories) last.
func busyboxTarWith(t *testing.T, rootMode int64, extra ...tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if rootMode != 0 {
		tw.WriteHeader(&tar.Header{Name: "./", Mode: rootMode, Typeflag: tar.TypeDir})
	}
	tr := tar.NewReader(bytes.NewReader(busyboxTar(t)))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(hdr)
		io.Copy(tw, tr)
	}
	for i := range extra {
		tw.WriteHeader(&extra[i])
	}
	tw.Close()
	return b.Bytes()
}

// symlinkImage imports "links": busybox with symlinks to missing
// directories, inside the image (/app -> /data/app, /rel ->
// ../../../data/rel) and named after hostDir, a host directory that must
// stay empty (/escabs -> HOSTDIR/abs, /escrel -> ../../../../../..HOSTDIR/rel).
func symlinkImage(t *testing.T, h hoistRunner, hostDir string) {
	t.Helper()
	link := func(name, target string) tar.Header {
		return tar.Header{Name: name, Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0o777}
	}
	tb := busyboxTarWith(t, 0,
		link("app", "/data/app"), link("rel", "../../../data/rel"),
		link("escabs", hostDir+"/abs"), link("escrel", "../../../../../.."+hostDir+"/rel"))
	h.must(tb, "import", "-", "links")
}

func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Fatalf("%s was written to on the host: %v", dir, ents)
	}
}

// TestRunBindSingleFile binds single files as docker does: -v FILE:/f:ro
// and --mount type=bind of a file; -v creates a missing host path as a
// directory, --mount refuses it; the mount point is made inside the
// rootfs even through an image symlink that points out of it.
func TestRunBindSingleFile(t *testing.T) {
	h, _ := buildEnv(t)
	t.Cleanup(func() { waitMonitors(t, h.root) }) // --rm's removal ends after the exit
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	os.WriteFile(file, []byte("hello\n"), 0o644)
	run := func(args ...string) (string, string, int) {
		return h.run(nil, append([]string{"run", "--rm", "--network", "none"}, args...)...)
	}
	if out, errOut, code := run("-v", file+":/f:ro", "busybox", "cat", "/f"); code != 0 || out != "hello\n" {
		t.Fatalf("-v FILE:/f:ro: %d %q %q", code, out, errOut)
	}
	if _, _, code := run("-v", file+":/f:ro", "busybox", "sh", "-c", "echo x >> /f"); code == 0 {
		t.Fatal("a read-only file bind was writable")
	}
	if out, errOut, code := run("--mount", "type=bind,source="+file+",target=/etc/f2", "busybox", "sh", "-c", "echo more >> /etc/f2; cat /etc/f2"); code != 0 || out != "hello\nmore\n" {
		t.Fatalf("--mount type=bind of a file: %d %q %q", code, out, errOut)
	}
	if b, _ := os.ReadFile(file); string(b) != "hello\nmore\n" {
		t.Fatalf("write through the rw bind: host file %q", b)
	}
	missing := filepath.Join(dir, "missing")
	if _, errOut, code := run("--mount", "type=bind,source="+missing+",target=/f", "busybox", "true"); code != 125 || !strings.Contains(errOut, "bind source path does not exist: "+missing) {
		t.Fatalf("--mount of a missing source: %d %q", code, errOut)
	}
	if _, err := os.Lstat(missing); err == nil {
		t.Fatal("--mount created its missing source")
	}
	if _, errOut, code := run("-v", missing+":/d", "busybox", "test", "-d", "/d"); code != 0 {
		t.Fatalf("-v of a missing source: %d %q", code, errOut)
	}
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Fatalf("-v did not create its missing source as a directory: %v", err)
	}
	hostDir := t.TempDir()
	symlinkImage(t, h, hostDir)
	for _, target := range []string{"/escabs/f", "/escrel/f", "/app/f"} {
		if out, errOut, code := run("-v", file+":"+target+":ro", "links", "cat", target); code != 0 || out != "hello\nmore\n" {
			t.Fatalf("-v FILE:%s: %d %q %q", target, code, out, errOut)
		}
	}
	checkEmpty(t, hostDir)
}

// TestRunRootDirMode: the container's / is 0755 as docker's, even when the
// image's "./" entry is 0700, so another user can list it (in `run` and
// in a build's RUN).
func TestRunRootDirMode(t *testing.T) {
	h, ctx := buildEnv(t)
	t.Cleanup(func() { waitMonitors(t, h.root) })
	h.must(busyboxTarWith(t, 0o700), "import", "-", "root700")
	out, errOut, code := h.run(nil, "run", "--rm", "--network", "none", "-u", "65534", "root700", "sh", "-c", "stat -c %a /; ls / >/dev/null && echo listed")
	if code != 0 || out != "755\nlisted\n" {
		t.Fatalf("-u 65534 on an image whose / is 0700: %d %q %q", code, out, errOut)
	}
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM root700\nUSER 65534\nRUN ls / >/dev/null\n"), 0o644)
	if _, errOut, code := h.run(nil, "build", "--progress", "plain", ctx); code != 0 {
		t.Fatalf("RUN as 65534 listing /: %d\n%s", code, errOut)
	}
}

// TestBuildThroughImageSymlinks: COPY, ADD, WORKDIR and `run -w` through
// an image symlink to a missing directory create that directory inside the
// rootfs, as docker does; symlinks to absolute host paths and up through
// "../.." resolve inside the rootfs too, never on the host.
func TestBuildThroughImageSymlinks(t *testing.T) {
	h, ctx := buildEnv(t)
	t.Cleanup(func() { waitMonitors(t, h.root) })
	hostDir := t.TempDir()
	symlinkImage(t, h, hostDir)
	os.MkdirAll(filepath.Join(ctx, "dir"), 0o755)
	os.WriteFile(filepath.Join(ctx, "dir", "a"), []byte("a\n"), 0o644)
	df := strings.Join([]string{
		"FROM links",
		"COPY hello.txt /app/",
		"COPY dir /rel/sub/",
		"ADD hello.txt /escabs/add/",
		"COPY hello.txt /escrel/y",
		"WORKDIR /app/wd",
		"RUN pwd -P > /pwd1 && cat /data/app/hello.txt /data/rel/sub/a " + hostDir + "/abs/add/hello.txt " + hostDir + "/rel/y",
		"WORKDIR /escrel/wd",
		"RUN pwd -P > /pwd2",
		"CMD cat /pwd1 /pwd2",
	}, "\n") + "\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	if _, errOut, code := h.run(nil, "build", "--progress", "plain", "-t", "through", ctx); code != 0 {
		t.Fatalf("build: %d\n%s", code, errOut)
	}
	out, errOut, code := h.run(nil, "run", "--rm", "--network", "none", "through")
	if want := "/data/app/wd\n" + hostDir + "/rel/wd\n"; code != 0 || out != want {
		t.Fatalf("WORKDIR through symlinks: %d %q (want %q) %q", code, out, want, errOut)
	}
	for wd, want := range map[string]string{"/app/sub": "/data/app/sub", "/escrel/sub": hostDir + "/rel/sub", "/escabs/sub": hostDir + "/abs/sub"} {
		out, errOut, code := h.run(nil, "run", "--rm", "--network", "none", "-w", wd, "links", "pwd", "-P")
		if code != 0 || out != want+"\n" {
			t.Fatalf("run -w %s: %d %q (want %q) %q", wd, code, out, want, errOut)
		}
	}
	checkEmpty(t, hostDir)
}

// TestRootPathWithSeparators runs containers and builds under a --root
// holding "," or ":" (overlayfs' option separators; crun's --log TYPE:PATH
// separator). With "," the bridge network under runc is refused up front
// with a clear error (runc refuses such a namespace path); host and none
// networks work, and crun's bridge (the default runtime's, when it is
// crun).
func TestRootPathWithSeparators(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (overlay, runc)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
	bin := hoistBinary(t)
	bb := busyboxTar(t)
	for _, name := range []string{"root,with,commas", "root:with:colons"} {
		t.Run(name, func(t *testing.T) {
			h := hoistRunner{t: t, bin: bin, root: filepath.Join(t.TempDir(), name)}
			t.Cleanup(func() {
				waitMonitors(t, h.root)
				mps, _ := mount.MountPoints(h.root)
				for i := len(mps) - 1; i >= 0; i-- {
					mount.UnmountAll(mps[i])
				}
				if len(mps) > 0 {
					t.Errorf("leaked mounts: %v", mps)
				}
			})
			h.must(bb, "import", "-", "busybox")
			if out := h.must(nil, "run", "--rm", "--network", "none", "busybox", "echo", "ok"); out != "ok\n" {
				t.Fatalf("run: %q", out)
			}
			out, errOut, code := h.run(nil, "run", "--rm", "busybox", "sh", "-c", "echo bridge")
			if strings.Contains(name, ",") && defaultRuntime() == "runc" {
				if code != 125 || !strings.Contains(errOut, "has a ','") || !strings.Contains(errOut, h.root) {
					t.Fatalf("bridge under a root with ',': %d %q %q", code, out, errOut)
				}
				waitMonitors(t, h.root) // the --rm container before
				if n := containerDirs(h.root); n > 0 {
					t.Fatalf("the refused container left %d dirs", n)
				}
				if out := h.must(nil, "run", "--rm", "--network", "host", "busybox", "echo", "host"); out != "host\n" {
					t.Fatalf("host network: %q", out)
				}
				if _, err := exec.LookPath("crun"); err == nil {
					if out := h.must(nil, "run", "--rm", "--runtime", "crun", "busybox", "echo", "crun"); out != "crun\n" {
						t.Fatalf("crun bridge: %q", out)
					}
				}
			} else if code != 0 || out != "bridge\n" {
				t.Fatalf("bridge: %d %q %q", code, out, errOut)
			}
			ctx := t.TempDir()
			os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo built > /b\nCMD cat /b\n"), 0o644)
			if _, errOut, code := h.run(nil, "build", "--progress", "plain", "-t", "built", ctx); code != 0 {
				t.Fatalf("build: %d\n%s", code, errOut)
			}
			if out := h.must(nil, "run", "--rm", "--network", "none", "built"); out != "built\n" {
				t.Fatalf("built image: %q", out)
			}
		})
	}
}

// defaultRuntime is the runtime hoist runs containers with in these
// tests: HOIST_RUNTIME's, else hoist's default (crun where installed).
func defaultRuntime() string {
	if rt := os.Getenv("HOIST_RUNTIME"); rt != "" {
		return filepath.Base(rt)
	}
	if _, err := exec.LookPath("crun"); err == nil {
		return "crun"
	}
	return "runc"
}
