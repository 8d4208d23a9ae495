package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Small differences from docker 20.10 that users see, one test each,
// through the real binary.

// binStore is the real binary on a fresh root with a busybox image bb:1
// (its ID returned).
func binStore(t *testing.T) (hoistRunner, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real binary)")
	}
	h := hoistRunner{t: t, bin: hoistBinary(t), root: t.TempDir()}
	return h, strings.TrimSpace(h.must(busyboxTar(t), "import", "-", "bb:1"))
}

// image inspect has docker 20.10's Container, ContainerConfig and
// VirtualSize, and GraphDriver docker's overlay2 keys.
func TestImageInspectDockerFields(t *testing.T) {
	h, _ := binStore(t)
	if got := h.must(nil, "image", "inspect", "-f", "{{.VirtualSize}}={{.Size}} [{{.Container}}] [{{.ContainerConfig.Hostname}}]", "bb:1"); !regexp.MustCompile(`^(\d+)=(\d+) \[\] \[\]\n$`).MatchString(got) || strings.Split(got, "=")[0] != strings.Split(strings.Split(got, "=")[1], " ")[0] {
		t.Errorf("VirtualSize, Container, ContainerConfig: %q", got)
	}
	var objs []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(h.must(nil, "image", "inspect", "bb:1")), &objs); err != nil || len(objs) != 1 {
		t.Fatal(err)
	}
	keys := jsonKeys(t, h.must(nil, "image", "inspect", "-f", "{{json .}}", "bb:1"))
	want := "Id RepoTags RepoDigests Parent Comment Created Container ContainerConfig DockerVersion Author Config Architecture Os Size VirtualSize GraphDriver RootFS Metadata"
	if strings.Join(keys, " ") != want {
		t.Errorf("fields:\n%s\nwant (docker 20.10's)\n%s", strings.Join(keys, " "), want)
	}
	var gd struct{ Data map[string]string }
	json.Unmarshal(objs[0]["GraphDriver"], &gd)
	for _, k := range []string{"MergedDir", "UpperDir", "WorkDir"} {
		if gd.Data[k] == "" {
			t.Errorf("GraphDriver.Data has no %s: %v", k, gd.Data)
		}
	}
}

// commit of a container that changed nothing adds a history entry but no
// layer (docker's empty_layer), and records the container.
func TestCommitUnchangedAddsNoLayer(t *testing.T) {
	h, _ := binStore(t)
	id := strings.TrimSpace(h.must(nil, "create", "--name", "same", "bb:1", "true"))
	t.Cleanup(func() { h.run(nil, "rm", "-f", "same") })
	h.must(nil, "commit", "same", "same:1")
	layers := func(ref string) string { return h.must(nil, "image", "inspect", "-f", "{{json .RootFS.Layers}}", ref) }
	if a, b := layers("bb:1"), layers("same:1"); a != b {
		t.Errorf("layers of the commit of an unchanged container:\n%s\nthe image's:\n%s", b, a)
	}
	if got := h.must(nil, "history", "--format", "{{.CreatedBy}} {{.Size}}", "same:1"); !strings.HasPrefix(got, "true 0B\n") || strings.Count(got, "\n") != 2 {
		t.Errorf("history: %q", got)
	}
	if got := h.must(nil, "image", "inspect", "-f", "{{.Container}} {{json .ContainerConfig.Cmd}}", "same:1"); got != id+` ["true"]`+"\n" {
		t.Errorf("Container, ContainerConfig of a commit: %q", got)
	}
}

// ps IMAGE is the image's ID once the container's tag names another
// image; PORTS is blank for a container that does not run.
func TestPsImageIDAfterTagMovedAndPortsOfStopped(t *testing.T) {
	h, bbID := binStore(t)
	h.must(nil, "create", "--name", "c1", "--expose", "90", "bb:1", "true")
	t.Cleanup(func() { h.run(nil, "rm", "-f", "c1") })
	if got := h.must(nil, "ps", "-a", "--format", "{{.Image}}|{{.Ports}}"); got != "bb:1|\n" {
		t.Errorf("ps of a created container: %q", got)
	}
	h.must(busyboxTar(t), "import", "-c", "ENV MOVED=1", "-", "bb:1") // bb:1 now names another image
	if got := h.must(nil, "ps", "-a", "--format", "{{.Image}}"); got != bbID[7:19]+"\n" {
		t.Errorf("ps IMAGE after the tag moved: %q, want %s", got, bbID[7:19])
	}
	if got := h.must(nil, "ps", "-a", "--no-trunc", "--format", "{{.Image}}"); got != bbID+"\n" {
		t.Errorf("ps --no-trunc IMAGE after the tag moved: %q", got)
	}
	if os.Geteuid() != 0 {
		return
	}
	if _, _, code := h.run(nil, "run", "--name", "c2", "--network", "none", "--expose", "90", "bb:1", "true"); code != 0 {
		t.Log("containers cannot run here: exited containers not checked")
		return
	}
	t.Cleanup(func() { h.run(nil, "rm", "-f", "c2") })
	if got := h.must(nil, "ps", "-a", "--filter", "name=c2", "--format", "{{.Status}}|{{.Ports}}"); !strings.HasPrefix(got, "Exited (0)") || !strings.HasSuffix(got, "|\n") {
		t.Errorf("ps of an exited container: %q", got)
	}
}

// images --format with {{.Digest}} shows the digests without --digests
// (docker's client asks for them when the format names them).
func TestImagesFormatDigest(t *testing.T) {
	h, _ := binStore(t)
	dockerConfigDir(t)
	host := testRegistry(t)
	h.must(nil, "tag", "bb:1", host+"/d/bb:1")
	h.must(nil, "push", host+"/d/bb:1")
	dst := hoistRunner{t: t, bin: h.bin, root: t.TempDir()}
	dst.must(nil, "pull", "-q", host+"/d/bb:1")
	dg := strings.TrimSpace(dst.must(nil, "image", "inspect", "-f", "{{index .RepoDigests 0}}", host+"/d/bb:1"))
	dg = dg[strings.Index(dg, "@")+1:]
	if got := dst.must(nil, "images", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}"); got != host+"/d/bb:1 "+dg+"\n" {
		t.Errorf("images --format {{.Digest}}: %q, want the digest %s", got, dg)
	}
	if got := dst.must(nil, "images"); strings.Contains(got, dg) {
		t.Errorf("the default table shows digests: %q", got)
	}
}

// system df's Build Cache line counts the rows that -v lists, and its size
// is theirs.
func TestSystemDfBuildCacheRows(t *testing.T) {
	h, _ := binStore(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("some bytes\n"), 0o644)
	// stage a's layers are the cache's alone: the image does not use them
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM bb:1 AS a\nCOPY f /f\nENV A=1\nCOPY f /g\nFROM bb:1\nCOPY --from=a /g /h\n"), 0o644)
	h.must(nil, "build", "-q", "-t", "app", dir)
	line := strings.Fields(h.must(nil, "system", "df", "--format", "{{if eq .Type \"Build Cache\"}}{{.TotalCount}} {{.Size}} {{.Reclaimable}}{{end}}"))
	if len(line) != 3 || line[0] == "0" || line[1] == "0B" || line[1] != line[2] {
		t.Fatalf("Build Cache line: %v", line)
	}
	v := h.must(nil, "system", "df", "-v")
	_, rows, _ := strings.Cut(v, "Build cache usage: ")
	usage, table, _ := strings.Cut(rows, "\n")
	if usage != line[1] {
		t.Errorf("Build cache usage %s, summary %s", usage, line[1])
	}
	n := len(strings.Split(strings.TrimSpace(table), "\n")) - 1 // the header
	if want := line[0]; want != strconv.Itoa(n) {
		t.Errorf("-v lists %d build cache rows, the summary counts %s:\n%s", n, want, table)
	}
}

// load says, as docker does, when a name it loads moves from another image.
func TestLoadMovesTagNotice(t *testing.T) {
	h, bbID := binStore(t)
	tarPath := filepath.Join(t.TempDir(), "bb.tar")
	h.must(nil, "save", "-o", tarPath, "bb:1")
	otherID := strings.TrimSpace(h.must(busyboxTar(t), "import", "-c", "ENV OTHER=1", "-", "bb:1"))
	want := "The image bb:1 already exists, renaming the old one with ID " + otherID + " to empty string\nLoaded image: bb:1\n"
	if got := h.must(nil, "load", "-i", tarPath); got != want {
		t.Errorf("load moving a tag:\n%q\nwant\n%q", got, want)
	}
	if got := h.must(nil, "load", "-q", "-i", tarPath); got != "Loaded image: bb:1\n" {
		t.Errorf("load of what is there: %q", got)
	}
	if got := strings.TrimSpace(h.must(nil, "image", "inspect", "-f", "{{.Id}}", "bb:1")); got != bbID {
		t.Errorf("bb:1 is %s, want %s", got, bbID)
	}
}

// save -o (and export -o) write the file 0600, as docker's client.
func TestSaveFileMode(t *testing.T) {
	h, _ := binStore(t)
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "out.tar")
	h.must(nil, "save", "-o", p, "bb:1")
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("save -o: %v %v", fi.Mode(), err)
	}
}
