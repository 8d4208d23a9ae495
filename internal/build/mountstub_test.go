package build

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The runtime creates missing mount points (/proc, /dev, /sys on a rootfs
// without them; RUN --mount targets and their parents); they must be
// listed, outermost first, so the step's cleanup removes them and they do
// not end up in the layer (docker leaves none).
func TestMissingPaths(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink("/etc", filepath.Join(root, "link"))
	for _, c := range []struct {
		dest string
		want []string
	}{
		{"/proc", []string{"/proc"}},
		{"/dev/shm", []string{"/dev", "/dev/shm"}},
		{"/etc", nil},
		{"/etc/a/b", []string{"/etc/a", "/etc/a/b"}},
		{"/link/x", []string{"/etc/x"}},
	} {
		var got []string
		for _, p := range missingPaths(root, c.dest) {
			got = append(got, "/"+filepath.ToSlash(mustRel(t, root, p)))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("missingPaths(%s) = %v, want %v", c.dest, got, c.want)
		}
	}
}

func mustRel(t *testing.T, base, p string) string {
	t.Helper()
	r, err := filepath.Rel(base, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
