package cli

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Image events are recorded by the engine whatever verb ran the flow:
// import, tag, build -t, save/load, push, pull, rmi and image prune -a
// each leave theirs in `hoist events --since` (run through the binary).
func TestImageEventsEveryPath(t *testing.T) {
	h := hoistRunner{t: t, bin: hoistBinary(t), root: t.TempDir()}
	host := testRegistry(t)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg})
	tw.Write([]byte("hello\n"))
	tw.Close()
	events := func() []string {
		t.Helper()
		out := h.must(nil, "events", "--since", "1h", "--until", "0s", "-f", "type=image", "--format", "{{.Action}} {{index .Actor.Attributes \"name\"}}")
		h.must(nil, "system", "prune", "-f") // nothing to prune: no events
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	has := func(evs []string, want ...string) {
		t.Helper()
		for _, w := range want {
			found := false
			for _, ev := range evs {
				found = found || ev == w
			}
			if !found {
				t.Errorf("no event %q in:\n%s", w, strings.Join(evs, "\n"))
			}
		}
	}

	h.must(b.Bytes(), "import", "-", "a:1")
	h.must(nil, "tag", "a:1", host+"/ev/a:1")
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM a:1\nLABEL x=y\n"), 0o644)
	h.must(nil, "build", "-q", "-t", "b:1", "-t", "b:2", ctx)
	h.must(nil, "push", host+"/ev/a:1")
	archive := filepath.Join(t.TempDir(), "b.tar")
	h.must(nil, "save", "-o", archive, "b:1")
	h.must(nil, "rmi", "b:2", host+"/ev/a:1")
	has(events(), "import ", "tag "+host+"/ev/a:1", "tag b:1", "tag b:2", "push "+host+"/ev/a:1", "untag b:2", "untag "+host+"/ev/a:1")

	// prune -a deletes both images (untag and delete events), load brings
	// one back, pull the other
	h.must(nil, "image", "prune", "-a", "-f")
	evs := events()
	has(evs, "untag a:1", "untag b:1")
	deleted := 0
	for _, ev := range evs {
		if strings.HasPrefix(ev, "delete sha256:") {
			deleted++
		}
	}
	if deleted < 2 { // a:1, b:1 (and what build left between them)
		t.Errorf("prune -a: %d delete events, want 2 or more:\n%s", deleted, strings.Join(evs, "\n"))
	}
	h.must(nil, "load", "-i", archive)
	h.must(nil, "pull", "-q", host+"/ev/a:1")
	evs = events()
	loads := 0
	for _, ev := range evs {
		if ev == "load " {
			loads++
		}
	}
	if loads != 1 {
		t.Errorf("load: %d load events, want 1:\n%s", loads, strings.Join(evs, "\n"))
	}
	has(evs, "pull "+host+"/ev/a:1")
}

// Volume events are recorded by the engine whatever verb ran the flow:
// volume create, volume rm, volume prune and system prune --volumes each
// leave theirs (system prune recorded none before the engine owned them).
func TestVolumeEventsEveryPath(t *testing.T) {
	h := hoistRunner{t: t, bin: hoistBinary(t), root: t.TempDir()}
	for _, v := range []string{"v1", "v2", "v3"} {
		h.must(nil, "volume", "create", v)
	}
	h.must(nil, "volume", "rm", "v1")
	h.must(nil, "volume", "prune", "-f")
	h.must(nil, "volume", "create", "v4")
	h.must(nil, "system", "prune", "-f", "--volumes")
	out := h.must(nil, "events", "--since", "1h", "--until", "0s", "-f", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}")
	evs := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"create v1", "create v2", "create v3", "destroy v1", "destroy v2", "destroy v3", "create v4", "destroy v4"}
	for _, w := range want {
		found := false
		for _, ev := range evs {
			found = found || ev == w
		}
		if !found {
			t.Errorf("no event %q in:\n%s", w, out)
		}
	}
}
