package archive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A hand-made upper dir: docker's rules for opaque directories that do or
// do not exist below, whiteouts, and parents of changes.
func TestOverlayChangesRules(t *testing.T) {
	requireRoot(t)
	upper := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(upper, "a/b/newopaque"), 0o755))
	must(os.MkdirAll(filepath.Join(upper, "a/oldopaque"), 0o755))
	must(unix.Setxattr(filepath.Join(upper, "a/b/newopaque"), overlayOpaqueXattr, []byte("y"), 0))
	must(unix.Setxattr(filepath.Join(upper, "a/oldopaque"), overlayOpaqueXattr, []byte("y"), 0))
	must(os.WriteFile(filepath.Join(upper, "a/oldopaque/f"), nil, 0o644))
	must(unix.Mknod(filepath.Join(upper, "a/b/gone"), unix.S_IFCHR, 0))
	must(unix.Mknod(filepath.Join(upper, "a/b/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	below := map[string]bool{"/a": true, "/a/b": true, "/a/oldopaque": true, "/a/b/gone": true}
	changes, err := OverlayChanges(upper, func(p string) bool { return below[p] })
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	want := "C /a|C /a/b|D /a/b/gone|A /a/b/newopaque|A /a/b/null|D /a/oldopaque|A /a/oldopaque/f"
	if got := strings.Join(lines, "|"); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := OverlayChanges(filepath.Join(upper, "missing"), func(string) bool { return false }); err == nil {
		t.Error("missing upper dir: no error")
	}
}
