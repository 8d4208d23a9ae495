package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeTree builds a tree exercising everything Tar must keep.
func makeTree(t testing.TB, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mt := time.Unix(1400000000, 0)
	must(os.MkdirAll(filepath.Join(dir, "etc/sub"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "empty"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "etc/sub/big"), bytes.Repeat([]byte("0123456789"), 100000), 0o600))
	must(os.WriteFile(filepath.Join(dir, "etc/empty"), nil, 0o640))
	must(os.WriteFile(filepath.Join(dir, "suid"), []byte("x"), 0o755))
	must(os.Chmod(filepath.Join(dir, "suid"), 0o4755|os.ModeSetuid))
	must(unix.Chmod(filepath.Join(dir, "suid"), 0o4755))
	must(os.Symlink("../etc/passwd", filepath.Join(dir, "etc/sub/link")))
	must(os.Symlink("/nonexistent/abs", filepath.Join(dir, "dangling")))
	must(os.Link(filepath.Join(dir, "etc/passwd"), filepath.Join(dir, "hardlink")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	must(unix.Setxattr(filepath.Join(dir, "etc/passwd"), "user.k", []byte("v"), 0))
	must(unix.Setxattr(filepath.Join(dir, "etc/sub"), "user.d", []byte("dirattr"), 0))
	if os.Geteuid() == 0 {
		must(unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(os.Lchown(filepath.Join(dir, "etc/sub/link"), 12, 34))
		must(os.Chown(filepath.Join(dir, "etc/sub/big"), 1000, 1000))
		must(unix.Setxattr(filepath.Join(dir, "etc/passwd"), "trusted.overlay.foo", []byte("hidden"), 0))
	}
	// times last, deepest first
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	for _, p := range []string{"etc/sub/link", "dangling"} {
		must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, p), ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	for _, p := range []string{"etc/passwd", "etc/sub/big", "etc/empty", "suid", "fifo", "etc/sub", "etc", "empty"} {
		must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, p), ts, 0))
	}
}

func TestTarRoundTrip(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src)
	var buf bytes.Buffer
	if err := Tar(context.Background(), &buf, src, TarOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	mustApply(t, dst, buf.Bytes(), ApplyOptions{NoSameOwner: os.Geteuid() != 0})
	want := snapshot(t, src, true)
	got := snapshot(t, dst, true)
	diffTrees(t, want, got)
	if got["hardlink"].Ino != got["etc/passwd"].Ino {
		t.Error("hardlink not kept as a hardlink")
	}

	// Deterministic and docker-like headers.
	var again bytes.Buffer
	if err := Tar(context.Background(), &again, src, TarOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two Tar runs of the same tree differ")
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: uname/gname %q/%q, want empty", h.Name, h.Uname, h.Gname)
		}
		for k := range h.PAXRecords {
			if strings.Contains(k, "overlay") {
				t.Errorf("%s: leaked %s", h.Name, k)
			}
		}
		if h.Name == "etc/passwd" && h.Mode != 0o100644 {
			t.Errorf("etc/passwd mode %o, want docker's 0100644", h.Mode)
		}
	}
	wantNames := "dangling empty/ etc/ etc/empty etc/passwd etc/sub/ etc/sub/big etc/sub/link fifo hardlink"
	if got := strings.Join(names, " "); !strings.HasPrefix(got, wantNames) {
		t.Errorf("order:\n got %s\nwant prefix %s", got, wantNames)
	}
}

func TestTarOptions(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src)
	epoch := time.Unix(1000000000, 0)
	var buf bytes.Buffer
	opts := TarOptions{SourceDateEpoch: &epoch, Exclude: func(p string) bool { return p == "/etc/sub" || p == "/suid" }}
	if err := Tar(context.Background(), &buf, src, opts); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(h.Name, "etc/sub") || h.Name == "suid" {
			t.Errorf("excluded %s present", h.Name)
		}
		if h.ModTime.After(epoch) {
			t.Errorf("%s: mtime %v after SOURCE_DATE_EPOCH", h.Name, h.ModTime)
		}
	}
}
