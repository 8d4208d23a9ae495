package spec

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mount points are made inside the rootfs, through image symlinks that
// point out of it (absolute or up through ".."), never on the host, and
// the destinations the runtime gets are the resolved ones; a mount below
// an earlier one, or below the runtime's own (/dev), is left to the
// runtime.
func TestPrepareMountPoints(t *testing.T) {
	rootfs, host := t.TempDir(), t.TempDir()
	os.Symlink(host+"/abs", filepath.Join(rootfs, "escabs"))
	os.Symlink("../../../../.."+host+"/rel", filepath.Join(rootfs, "escrel"))
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("x"), 0o644)
	dir := t.TempDir()
	ms := []specs.Mount{
		Bind(file, "/escabs/f", false, ""),
		Bind(dir, "/escrel/d", true, ""),
		Tmpfs("/t/u", ""),
		Bind(dir, "/vol", true, ""),
		Bind(file, "/vol/inside", true, ""),
		Bind(file, "/dev/init", false, ""),
	}
	prepareMountPoints(rootfs, ms, []string{"/proc", "/dev"})
	want := []string{"/" + filepath.Join(host[1:], "abs/f"), "/" + filepath.Join(host[1:], "rel/d"), "/t/u", "/vol", "/vol/inside", "/dev/init"}
	for i, m := range ms {
		if m.Destination != want[i] {
			t.Errorf("mount %d: destination %s, want %s", i, m.Destination, want[i])
		}
	}
	// the file's mount point, the directories' parents (their own is the
	// runtime's to make: runc gives a tmpfs on an existing one its mode)
	for p, isDir := range map[string]bool{want[0]: false, filepath.Dir(want[1]): true, "/t": true} {
		fi, err := os.Lstat(filepath.Join(rootfs, p))
		if err != nil || fi.IsDir() != isDir {
			t.Errorf("mount point %s: %v (dir %v)", p, err, isDir)
		}
	}
	for _, p := range []string{"/vol", "/t/u", "/vol/inside", "/dev"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err == nil {
			t.Errorf("%s made in the rootfs (a directory's own, or below another mount)", p)
		}
	}
	if ents, _ := os.ReadDir(host); len(ents) > 0 {
		t.Fatalf("the host was written to: %v", ents)
	}
}

func TestCheckHostNetworkSysctls(t *testing.T) {
	if err := CheckHostNetworkSysctls(map[string]string{"kernel.shmmax": "1"}); err != nil {
		t.Fatal(err)
	}
	err := CheckHostNetworkSysctls(map[string]string{"kernel.shmmax": "1", "net.ipv4.ip_forward": "1"})
	if err == nil || err.Error() != `sysctl "net.ipv4.ip_forward" not allowed in host network namespace` {
		t.Fatalf("net.* in the host's namespace: %v", err)
	}
}
