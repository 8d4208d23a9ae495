package runc

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

// The primary group is among the supplementary groups of a RUN process, as
// with docker (`id` prints groups=1001(app)); the compat suite found it
// missing.
func TestRunSpecSupplementaryGroups(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1001:\nstaff:x:50:app\n"), 0o644)
	for _, c := range []struct {
		user string
		want []uint32
	}{
		{"", []uint32{0}},
		{"app", []uint32{1001, 50}},
		{"1000:50", []uint32{50}},
	} {
		r := &Runner{}
		s, cleanup, err := r.spec(Request{Rootfs: root, User: c.user, Args: []string{"id"}}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cleanup()
		if got := s.Process.User.AdditionalGids; !reflect.DeepEqual(got, c.want) {
			t.Errorf("USER %q: AdditionalGids %v, want %v", c.user, got, c.want)
		}
	}
}

// The stubs runc makes for mount points are removed after the step: a
// secret mounted at /etc/tok left an empty /etc/tok in the image. As
// BuildKit, the directories made for RUN --mount targets stay.
func TestRunSpecCleanupRemovesMountStubs(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	r := &Runner{}
	_, cleanup, err := r.spec(Request{Rootfs: root, Args: []string{"true"}, Mounts: []Mount{
		{Type: "bind", Source: "/dev/null", Destination: "/etc/tok"},
		{Type: "tmpfs", Source: "tmpfs", Destination: "/new/deep/tmp"},
	}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// What runc creates:
	for _, d := range []string{"proc", "dev", "sys", "new/deep/tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "etc/tok"), nil, 0o755)
	cleanup()
	for _, p := range []string{"proc", "dev", "sys", "etc/tok"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("mount stub /%s left in the rootfs", p)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "new/deep/tmp")); err != nil || !fi.IsDir() {
		t.Errorf("the directory of a RUN --mount target was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); err != nil {
		t.Error("/etc (in the image) removed")
	}
}

// HOME is the passwd home of the process's uid, else "/" (runc's default,
// so docker's): a numeric USER without a passwd entry got /root.
func TestRunSpecHome(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"), 0o644)
	empty := t.TempDir()
	for _, c := range []struct {
		rootfs, user, want string
	}{
		{root, "", "HOME=/root"},
		{root, "app", "HOME=/home/app"},
		{root, "1000", "HOME=/home/app"},
		{root, "4242:4343", "HOME=/"},
		{empty, "", "HOME=/"},
	} {
		s, cleanup, err := (&Runner{}).spec(Request{Rootfs: c.rootfs, User: c.user, Args: []string{"true"}}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cleanup()
		found := ""
		for _, e := range s.Process.Env {
			if len(e) > 5 && e[:5] == "HOME=" {
				found = e
			}
		}
		if found != c.want {
			t.Errorf("USER %q: %q, want %q", c.user, found, c.want)
		}
	}
}

// --cgroup-parent puts the step's cgroup under the parent; --memory-swap
// is the step's memory+swap limit (the container package's rule).
func TestRunSpecCgroupParentAndSwap(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "hoist-build-1-abc")
	os.Mkdir(bundle, 0o700)
	s, cleanup, err := (&Runner{}).spec(Request{Rootfs: t.TempDir(), Args: []string{"true"},
		Resources: Resources{Memory: 64 << 20, MemorySwap: 128 << 20, CgroupParent: "/ci/builds/"}}, bundle)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if s.Linux.CgroupsPath != "/ci/builds/hoist-build-1-abc" {
		t.Errorf("cgroupsPath %q", s.Linux.CgroupsPath)
	}
	if m := s.Linux.Resources.Memory; m == nil || *m.Limit != 64<<20 || *m.Swap != 128<<20 {
		t.Errorf("memory %+v", m)
	}
}
