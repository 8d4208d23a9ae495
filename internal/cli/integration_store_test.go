package cli

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// hoistBinary builds cmd/hoist into dir (or uses $HOIST_BIN).
func hoistBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("HOIST_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "hoist")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/hoist")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// busyboxTar makes a busybox rootfs tar from /bin/busybox (busybox-static).
func busyboxTar(t *testing.T) []byte {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("busybox-static not installed (/bin/busybox)")
	}
	list, err := exec.Command("/bin/busybox", "--list-full").Output()
	if err != nil {
		t.Skipf("/bin/busybox --list-full: %v", err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mt := time.Unix(1700000000, 0)
	dirs := map[string]bool{}
	mkdir := func(d string) {
		if !dirs[d] {
			dirs[d] = true
			tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: mt})
		}
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "root"} {
		mkdir(d)
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb)), Typeflag: tar.TypeReg, ModTime: mt})
	tw.Write(bb)
	for _, app := range strings.Fields(string(list)) {
		if app == "bin/busybox" {
			continue
		}
		mkdir(filepath.Dir(app))
		tw.WriteHeader(&tar.Header{Name: app, Linkname: "/bin/busybox", Typeflag: tar.TypeSymlink, Mode: 0o777, ModTime: mt})
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\n"
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Mode: 0o644, Size: int64(len(passwd)), Typeflag: tar.TypeReg, ModTime: mt})
	tw.Write([]byte(passwd))
	tw.Close()
	return b.Bytes()
}

type hoistRunner struct {
	t    *testing.T
	bin  string
	root string
}

func (h hoistRunner) run(stdin []byte, args ...string) (string, string, int) {
	cmd := exec.Command(h.bin, append([]string{"--root", h.root}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("running hoist: %v", err)
	}
	return out.String(), errOut.String(), code
}

func (h hoistRunner) must(stdin []byte, args ...string) string {
	h.t.Helper()
	out, errOut, code := h.run(stdin, args...)
	if code != 0 {
		h.t.Fatalf("hoist %v: exit %d\n%s", args, code, errOut)
	}
	return out
}

func (h hoistRunner) checkClean() {
	h.t.Helper()
	out, _, code := h.run(nil, "system", "check")
	if code != 0 || !strings.Contains(out, "No problems found.") {
		h.t.Fatalf("system check: exit %d\n%s", code, out)
	}
}

func compress(t *testing.T, kind string, b []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch kind {
	case "gz":
		w = gzip.NewWriter(&buf)
	case "zst":
		w, _ = zstd.NewWriter(&buf)
	case "xz":
		var err error
		if w, err = xz.NewWriter(&buf); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("compress: unknown kind %q", kind)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestIntegrationStore(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (builds the binary)")
	}
	bin := hoistBinary(t)
	rootfs := busyboxTar(t)

	t.Run("ImportFormats", func(t *testing.T) {
		h := hoistRunner{t, bin, t.TempDir()}
		id := strings.TrimSpace(h.must(rootfs, "import", "-c", `CMD ["sh"]`, "-", "busybox"))
		for _, kind := range []string{"gz", "zst", "xz"} {
			f := filepath.Join(t.TempDir(), "rootfs.tar."+kind)
			os.WriteFile(f, compress(t, kind, rootfs), 0o644)
			got := strings.TrimSpace(h.must(nil, "import", "-c", `CMD ["sh"]`, f, "busybox:"+kind))
			if got == "" {
				t.Fatalf("%s: no id", kind)
			}
		}
		out := h.must(nil, "inspect", "-f", "{{index .RootFS.Layers 0}}", "busybox:gz")
		out2 := h.must(nil, "inspect", "-f", "{{index .RootFS.Layers 0}}", id)
		if out != out2 {
			t.Fatalf("diffID differs between gzip and plain import: %s vs %s", out, out2)
		}
		upper := strings.TrimSpace(h.must(nil, "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "busybox"))
		if fi, err := os.Stat(filepath.Join(upper, "bin/busybox")); err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("unpacked busybox: %v", err)
		}
		if l, err := os.Readlink(filepath.Join(upper, "bin/sh")); err != nil || l != "/bin/busybox" {
			t.Fatalf("bin/sh link: %q %v", l, err)
		}
		// All four images share the one layer.
		out = h.must(nil, "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}")
		if !strings.HasPrefix(out, "Images 4 ") {
			t.Fatalf("df: %s", out)
		}
		h.checkClean()
		// URL import over HTTP on 127.0.0.1.
		srv := serveBytes(t, rootfs)
		h.must(nil, "import", srv+"/rootfs.tar", "fromurl:1")
		if c := h.must(nil, "inspect", "-f", "{{.Comment}}", "fromurl:1"); c != "Imported from "+srv+"/rootfs.tar\n" {
			t.Fatalf("url import comment %q", c)
		}
	})

	t.Run("Kill9", func(t *testing.T) {
		h := hoistRunner{t, bin, t.TempDir()}
		h.must(rootfs, "import", "-", "base:1")
		for i := range 12 {
			// Import fed slowly through a pipe, killed at a random point.
			cmd := exec.Command(bin, "--root", h.root, "import", "-", fmt.Sprintf("killed:%d", i))
			pw, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cut := rand.IntN(len(rootfs))
			pw.Write(rootfs[:cut])
			if i%3 == 0 {
				pw.Write(rootfs[cut:])
				pw.Close()
				time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			pw.Close()
			// tag and rmi killed at random moments too.
			for _, args := range [][]string{{"tag", "base:1", fmt.Sprintf("t:%d", i)}, {"rmi", fmt.Sprintf("t:%d", i-1)}} {
				c := exec.Command(bin, append([]string{"--root", h.root}, args...)...)
				c.Start()
				time.Sleep(time.Duration(rand.IntN(8)) * time.Millisecond)
				c.Process.Signal(syscall.SIGKILL)
				c.Wait()
			}
			h.checkClean()
			// A name only ever points at a complete image.
			out := h.must(nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
			for _, name := range strings.Fields(out) {
				h.must(nil, "inspect", "-f", "{{.Id}}", name)
			}
		}
		h.must(nil, "system", "check", "--repair")
		h.checkClean()
	})

	t.Run("TwoProcesses", func(t *testing.T) {
		h := hoistRunner{t, bin, t.TempDir()}
		var wg sync.WaitGroup
		errs := make(chan string, 100)
		for p := range 2 {
			wg.Go(func() {
				for i := range 4 {
					name := fmt.Sprintf("p%d:%d", p, i)
					for _, args := range [][]string{{"import", "-", name}, {"tag", name, name + "x"}, {"images"}, {"rmi", name}, {"image", "prune", "-f"}} {
						var in []byte
						if args[0] == "import" {
							in = rootfs
						}
						if _, errOut, code := h.run(in, args...); code != 0 {
							errs <- fmt.Sprintf("%v: %s", args, errOut)
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		h.checkClean()
		out := h.must(nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
		if len(strings.Fields(out)) != 8 {
			t.Fatalf("images:\n%s", out)
		}
	})

	t.Run("ImportWhilePruneAll", func(t *testing.T) {
		h := hoistRunner{t, bin, t.TempDir()}
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, errOut, code := h.run(nil, "system", "prune", "-a", "-f"); code != 0 {
					t.Errorf("prune: %s", errOut)
					return
				}
			}
		})
		for i := range 6 {
			name := fmt.Sprintf("imp:%d", i)
			if _, errOut, code := h.run(rootfs, "import", "-", name); code != 0 {
				t.Errorf("import %s: %s", name, errOut)
			}
		}
		close(done)
		wg.Wait()
		h.checkClean()
		out := h.must(nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
		for _, name := range strings.Fields(out) {
			upper := strings.TrimSpace(h.must(nil, "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", name))
			if _, err := os.Stat(filepath.Join(upper, "bin/busybox")); err != nil {
				t.Fatalf("%s: layer content missing: %v", name, err)
			}
		}
	})
}
