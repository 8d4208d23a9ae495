package cli

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tests of "rollback owns only what it created": a failed operation that
// touched content an existing image holds leaves that image whole.

type tarMember struct {
	name string
	body []byte
}

func readTarMembers(t *testing.T, b []byte) []tarMember {
	t.Helper()
	var out []tarMember
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarMember{hdr.Name, body})
	}
}

func writeTarMembers(ms []tarMember) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range ms {
		tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
		tw.Write(m.body)
	}
	tw.Close()
	return b.Bytes()
}

type savedManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// legacyArchive rewrites a `hoist save` archive of one image in docker's
// layout before v25: <id>/layer.tar and <config hex>.json, members that are
// not named by their digest. edit may change the manifest entry.
func legacyArchive(t *testing.T, saved []byte, edit func(*savedManifest)) []tarMember {
	t.Helper()
	byName := map[string][]byte{}
	for _, m := range readTarMembers(t, saved) {
		byName[m.name] = m.body
	}
	var mf []savedManifest
	if err := json.Unmarshal(byName["manifest.json"], &mf); err != nil || len(mf) != 1 {
		t.Fatalf("manifest.json of the saved archive: %v (%d entries)", err, len(mf))
	}
	var ms []tarMember
	e := savedManifest{Config: path.Base(mf[0].Config) + ".json", RepoTags: mf[0].RepoTags}
	ms = append(ms, tarMember{e.Config, byName[mf[0].Config]})
	for _, l := range mf[0].Layers {
		name := path.Base(l) + "/layer.tar"
		ms = append(ms, tarMember{name, byName[l]})
		e.Layers = append(e.Layers, name)
	}
	if edit != nil {
		edit(&e)
	}
	raw, _ := json.Marshal([]savedManifest{e})
	return append(ms, tarMember{"manifest.json", raw})
}

// intact proves that an image survived: the store is clean, the image
// saves (every blob readable), pushes to the registry reg and runs.
func intact(t *testing.T, h hoistRunner, reg, image string) {
	t.Helper()
	h.t = t
	h.checkClean()
	h.must(nil, "save", "-o", filepath.Join(t.TempDir(), "intact.tar"), image)
	pushed := reg + "/intact/image:latest"
	h.must(nil, "tag", image, pushed)
	h.must(nil, "push", "-q", pushed)
	h.must(nil, "rmi", pushed)
	if out := h.must(nil, "run", "--rm", "--network", "none", image, "echo", "alive"); out != "alive\n" {
		t.Fatalf("run %s after the failed operation: %q", image, out)
	}
}

// TestFailedLoadKeepsExistingImage: loads of an image already in the store
// that fail (bad RepoTag, a member path outside the archive, truncation),
// in docker's pre-v25 layout (members not named by digest, written again)
// and in the OCI layout, remove nothing the existing image uses.
func TestFailedLoadKeepsExistingImage(t *testing.T) {
	h, _ := buildEnv(t)
	t.Cleanup(func() { waitMonitors(t, h.root) })
	dockerConfigDir(t)
	reg := serveRegistryBinary(t, h.bin)
	saved := filepath.Join(t.TempDir(), "bb.tar")
	h.must(nil, "save", "-o", saved, "busybox")
	raw, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	pad := tarMember{"pad/layer.tar", bytes.Repeat([]byte("p"), 256<<10)}
	ociOnly := func(edit func(ms []tarMember) []tarMember) []byte {
		var ms []tarMember
		for _, m := range readTarMembers(t, raw) {
			if m.name != "manifest.json" && m.name != "repositories" {
				ms = append(ms, m)
			}
		}
		return writeTarMembers(edit(ms))
	}
	cases := map[string]struct {
		archive []byte
		want    string
	}{
		"docker bad RepoTag": {writeTarMembers(legacyArchive(t, raw, func(e *savedManifest) { e.RepoTags = []string{"UPPER:tag"} })), "invalid reference format"},
		"docker bad member path": {writeTarMembers(legacyArchive(t, raw, func(e *savedManifest) { e.Layers = append(e.Layers, "../../etc/passwd") })),
			"is not in the archive"},
		"docker truncated": {func() []byte {
			b := writeTarMembers(append(legacyArchive(t, raw, nil), pad))
			return b[:len(b)-len(pad.body)/2]
		}(), "archive"},
		"oci missing manifest": {ociOnly(func(ms []tarMember) []tarMember {
			for i, m := range ms {
				if m.name == "index.json" {
					var idx map[string]any
					if err := json.Unmarshal(m.body, &idx); err != nil {
						t.Fatal(err)
					}
					for _, d := range idx["manifests"].([]any) {
						d.(map[string]any)["digest"] = "sha256:" + strings.Repeat("0", 64)
					}
					ms[i].body, _ = json.Marshal(idx)
				}
			}
			return ms
		}), "not in the archive"},
		"oci truncated": {func() []byte {
			b := ociOnly(func(ms []tarMember) []tarMember { return append(ms, pad) })
			return b[:len(b)-len(pad.body)/2]
		}(), "archive"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := h.run(c.archive, "load")
			if code == 0 || !strings.Contains(errOut, c.want) {
				t.Fatalf("load: exit %d, %q; want a failure naming %q", code, errOut, c.want)
			}
			intact(t, h, reg, "busybox")
		})
	}
}

// TestFailedLoadKeepsBlobsOfConcurrentLoad: a load writes the blobs of an
// image, then waits for the rest of its stream; meanwhile another load
// records the same image (finding the blobs stored). When the first load
// then fails, its rollback must leave the blobs to the recorded image.
func TestFailedLoadKeepsBlobsOfConcurrentLoad(t *testing.T) {
	h, _ := buildEnv(t)
	t.Cleanup(func() { waitMonitors(t, h.root) })
	dockerConfigDir(t)
	reg := serveRegistryBinary(t, h.bin)
	// A second image, with a layer the store does not have yet.
	src := hoistRunner{t: t, bin: h.bin, root: t.TempDir()}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tr := tar.NewReader(bytes.NewReader(busyboxTar(t)))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		tw.WriteHeader(hdr)
		io.Copy(tw, tr)
	}
	tw.WriteHeader(&tar.Header{Name: "etc/other", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg})
	tw.Write([]byte("other\n"))
	tw.Close()
	src.must(layer.Bytes(), "import", "-", "other:1")
	saved := filepath.Join(t.TempDir(), "other.tar")
	src.must(nil, "save", "-o", saved, "other:1")
	raw, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	for _, layout := range []string{"oci", "docker"} {
		t.Run(layout, func(t *testing.T) {
			var blobs []tarMember
			if layout == "oci" {
				blobs = readTarMembers(t, raw)
			} else {
				blobs = legacyArchive(t, raw, nil)
			}
			// The first load: every member but the last, then a stall.
			first := exec.Command(h.bin, "--root", h.root, "load")
			stdin, err := first.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errOut bytes.Buffer
			first.Stderr = &errOut
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { first.Process.Kill(); first.Wait() })
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, m := range blobs {
				tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg})
				tw.Write(m.body)
			}
			tw.Flush()
			sent := buf.Len()
			if _, err := stdin.Write(buf.Bytes()); err != nil {
				t.Fatal(err)
			}
			// Wait until the first load has stored every blob it was sent.
			var mf []savedManifest
			for _, m := range readTarMembers(t, raw) {
				if m.name == "manifest.json" {
					json.Unmarshal(m.body, &mf)
				}
			}
			want := append([]string{mf[0].Config}, mf[0].Layers...)
			deadline := time.Now().Add(30 * time.Second)
			for _, b := range want {
				p := filepath.Join(h.root, "content", b)
				for {
					if _, err := os.Stat(p); err == nil {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the first load did not store %s", b)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			// The second load records the image.
			h.must(raw, "load")
			// The first load fails: a member cut short.
			tw.WriteHeader(&tar.Header{Name: "cut/layer.tar", Mode: 0o644, Size: 4096, Typeflag: tar.TypeReg})
			stdin.Write(buf.Bytes()[sent:])
			stdin.Write([]byte("short"))
			stdin.Close()
			if err := first.Wait(); err == nil {
				t.Fatalf("the cut load succeeded")
			}
			intact(t, h, reg, "other:1")
			h.must(nil, "rmi", "other:1")
		})
	}
}
