package rootless_test

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// usableFuse makes /dev/fuse usable by users (0666, Debian udev's mode)
// for the test, restoring its mode afterwards: fuse-overlayfs opens it as
// the user.
func usableFuse(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		t.Skipf("fuse-overlayfs not installed: %v", err)
	}
	usableDevice(t, "/dev/fuse")
}

// holderFuseMounts lists the fuse-overlayfs mounts in the user's holder
// namespace (its mountinfo, read from the host).
func holderFuseMounts(t *testing.T, u *rlUser) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(os.TempDir(), "hoist-"+strconv.Itoa(u.uid), "holder.pid"))
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, " - fuse.fuse-overlayfs ") {
			out = append(out, l)
		}
	}
	return out
}

// layerEntries lists the entries (and their xattrs) of the top layer of
// the single image in a `hoist save` archive.
func layerEntries(t *testing.T, archive string) map[string]map[string]string {
	t.Helper()
	read := func(name string) []byte {
		f, err := os.Open(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err != nil {
				t.Fatalf("%s not in %s: %v", name, archive, err)
			}
			if h.Name == name {
				b, _ := io.ReadAll(tr)
				return b
			}
		}
	}
	var man []struct{ Layers []string }
	if err := json.Unmarshal(read("manifest.json"), &man); err != nil || len(man) != 1 {
		t.Fatalf("manifest.json: %v %v", man, err)
	}
	top := read(man[0].Layers[len(man[0].Layers)-1])
	tr := tar.NewReader(strings.NewReader(string(top)))
	out := map[string]map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h.PAXRecords
	}
}

// TestRootlessFuseOverlayfs runs containers and builds of a created user
// on fuse-overlayfs (HOIST_ROOTLESS_OVERLAY=fuse-overlayfs): info says so,
// run --rm, a build whose RUN deletes a file of the base (a whiteout) and
// replaces a directory (opaque), diff and commit of a container that does
// the same, save (the layer tar has docker's whiteouts and none of
// fuse-overlayfs's markers), and no fuse mount left once containers are
// gone.
func TestRootlessFuseOverlayfs(t *testing.T) {
	needTools(t)
	usableTun(t)
	usableFuse(t)
	u := newUser(t, hoistCopy(t), "330000-395535")
	u.env = []string{"HOIST_ROOTLESS_OVERLAY=fuse-overlayfs"}

	tarPath := filepath.Join(u.home, "bb.tar")
	if out, err := exec.Command("bash", "../../scripts/mkbusybox.sh", tarPath).CombinedOutput(); err != nil {
		t.Fatalf("mkbusybox: %v\n%s", err, out)
	}
	os.Chown(tarPath, u.uid, u.gid)

	info := u.must("info")
	for _, want := range []string{"  Native Overlay Diff: false\n", "  Overlay: fuse-overlayfs\n", "  rootless\n"} {
		if !strings.Contains(info, want) {
			t.Fatalf("info does not show %q:\n%s", want, info)
		}
	}
	u.must("import", "bb.tar", "bb")
	if out := u.must("run", "--rm", "--network", "none", "bb", "echo", "hi"); out != "hi\n" {
		t.Fatalf("run --rm: %q", out)
	}

	// The rootfs of a running container is a fuse-overlayfs mount.
	u.must("run", "-d", "--name", "d1", "--network", "none", "bb", "sleep", "1000")
	if ms := holderFuseMounts(t, u); len(ms) != 1 || !strings.Contains(ms[0], "/rootfs ") {
		t.Errorf("fuse-overlayfs mounts with d1 running: %q", ms)
	}
	u.must("rm", "-f", "d1")

	u.writeFile("ctx/Dockerfile", []byte("FROM bb\nRUN rm /bin/ls && rm -rf /usr && mkdir /usr && echo built > /usr/y\n"))
	u.must("build", "-q", "-t", "bb:built", "ctx")
	if out := u.must("run", "--rm", "--network", "none", "bb:built", "sh", "-c", "ls -A /usr; cat /usr/y; test -e /bin/ls || echo no-ls"); out != "y\nbuilt\nno-ls\n" {
		t.Errorf("run bb:built: %q", out)
	}

	u.must("run", "--name", "c1", "--network", "none", "bb", "sh", "-c", "rm /bin/cat && rm -rf /usr && mkdir /usr && echo c > /usr/z && echo n > /new")
	diff := strings.Split(strings.TrimSpace(u.must("diff", "c1")), "\n")
	for _, want := range []string{"D /bin/cat", "D /usr", "A /usr/z", "A /new"} {
		if !slices.Contains(diff, want) {
			t.Errorf("diff c1 lacks %q: %q", want, diff)
		}
	}
	for _, d := range diff {
		if strings.Contains(d, ".wh.") || strings.HasSuffix(d, "/.opq") {
			t.Errorf("diff c1 shows a marker: %q", d)
		}
	}
	u.must("commit", "c1", "bb:c1")
	if out := u.must("run", "--rm", "--network", "none", "bb:c1", "sh", "-c", "ls -A /usr; cat /new; test -e /bin/cat || echo no-cat"); out != "z\nn\nno-cat\n" {
		t.Errorf("run bb:c1: %q", out)
	}
	for ref, want := range map[string][]string{"bb:c1": {"bin/.wh.cat", "usr/.wh..wh..opq", "usr/z", "new"}, "bb:built": {"bin/.wh.ls", "usr/.wh..wh..opq", "usr/y"}} {
		u.must("save", "-o", "img.tar", ref)
		ents := layerEntries(t, filepath.Join(u.home, "img.tar"))
		for _, w := range want {
			if _, ok := ents[w]; !ok {
				t.Errorf("%s: top layer lacks %s: %v", ref, w, ents)
			}
		}
		for name, pax := range ents {
			if strings.HasSuffix(name, ".wh..opq") && !strings.HasSuffix(name, ".wh..wh..opq") {
				t.Errorf("%s: fuse-overlayfs's marker %s in the layer", ref, name)
			}
			for k := range pax {
				if strings.Contains(k, "fuseoverlayfs") || strings.Contains(k, "overlay.") {
					t.Errorf("%s: %s carries %s", ref, name, k)
				}
			}
		}
	}
	u.must("rm", "c1")

	// No fuse mount, and no fuse-overlayfs daemon, is left.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms := holderFuseMounts(t, u)
		out, _ := exec.Command("pgrep", "-u", strconv.Itoa(u.uid), "-x", "fuse-overlayfs").Output()
		if len(ms) == 0 && len(strings.TrimSpace(string(out))) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left after rm: mounts %q, fuse-overlayfs processes %q", ms, out)
		}
		time.Sleep(20 * time.Millisecond) // polling the daemons' exit
	}
}
