package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenParentInRoot: every symlink, absolute or climbing, stays inside
// the root; follow follows a final symlink (inside the root) and nothing
// else does.
func TestOpenParentInRoot(t *testing.T) {
	root, host := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600)
	os.MkdirAll(filepath.Join(root, "w"), 0o755)
	os.WriteFile(filepath.Join(root, "w/secret"), []byte("inside"), 0o600)
	os.Symlink(host, filepath.Join(root, "abs"))               // a host path, absolute
	os.Symlink("../../../../"+host, filepath.Join(root, "up")) // climbing out
	os.Symlink("/w/secret", filepath.Join(root, "fl"))         // final link
	os.Symlink("fl", filepath.Join(root, "fl2"))               // a chain
	os.Symlink("loop", filepath.Join(root, "loop"))
	r, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	read := func(p string, follow bool) (string, string, error) {
		t.Helper()
		d, name, err := OpenParentInRoot(r, p, follow)
		if err != nil {
			return "", "", err
		}
		defer d.Close()
		fd, err := unix.Openat(int(d.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return name, "", err
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		b := make([]byte, 16)
		n, _ := f.Read(b)
		return name, string(b[:n]), nil
	}
	for _, p := range []string{"/abs/secret", "abs/secret", "/up/secret", "/w/../../abs/secret"} {
		if _, got, err := read(p, true); err == nil || got == "host" {
			t.Errorf("%s: read %q, %v: the host's file", p, got, err)
		}
	}
	for _, c := range []struct {
		p      string
		follow bool
		name   string
		want   string
	}{
		{"/w/secret", false, "secret", "inside"},
		{"/fl", true, "secret", "inside"},
		{"/fl2", true, "secret", "inside"},
		{"/../../w/secret", false, "secret", "inside"},
	} {
		name, got, err := read(c.p, c.follow)
		if err != nil || name != c.name || got != c.want {
			t.Errorf("%s follow=%v: %q %q %v", c.p, c.follow, name, got, err)
		}
	}
	// Not following: the symlink itself.
	if _, _, err := read("/fl", false); !errors.Is(err, unix.ELOOP) {
		t.Errorf("/fl without follow opened through the link: %v", err)
	}
	if _, _, err := OpenParentInRoot(r, "/loop", true); !errors.Is(err, unix.ELOOP) {
		t.Errorf("symlink loop: %v", err)
	}
	for _, p := range []string{"/", "", "/w/", "/w/.."} {
		d, name, err := OpenParentInRoot(r, p, false)
		if err != nil || name != "." {
			t.Fatalf("%q: %q %v", p, name, err)
		}
		d.Close()
	}
}
