package cli

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLeftoversVisibleAndReclaimed: what interrupted work left (a blob
// write of a dead process, a layer directory without a record, the write
// of a load killed with -9) shows in `system df` as build cache and in
// `system check`, and is removed by `system prune` and `system check
// --repair` at once, while a write a live load still owns is kept.
func TestLeftoversVisibleAndReclaimed(t *testing.T) {
	h := hoistRunner{t: t, bin: hoistBinary(t), root: t.TempDir()}
	h.must(nil, "images")
	ingest := filepath.Join(h.root, "content", "ingest")

	// A blob write whose process is gone.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(ingest, fmt.Sprintf("%d-deadbeef", gone.Process.Pid))
	if err := os.WriteFile(dead, bytes.Repeat([]byte("d"), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	// A layer directory no record names.
	orphan := filepath.Join(h.root, "layers", strings.Repeat("ab", 32))
	os.MkdirAll(filepath.Join(orphan, "diff"), 0o755)
	os.WriteFile(filepath.Join(orphan, "diff", "f"), bytes.Repeat([]byte("o"), 512<<10), 0o644)

	// A load in the middle of a member: its write is live.
	load := exec.Command(h.bin, "--root", h.root, "load")
	stdin, err := load.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { load.Process.Kill(); load.Wait() })
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	tw.WriteHeader(&tar.Header{Name: "x/layer.tar", Mode: 0o644, Size: 8 << 20, Typeflag: tar.TypeReg})
	stdin.Write(hdr.Bytes())
	stdin.Write(bytes.Repeat([]byte("l"), 3<<20))
	var live string
	for deadline := time.Now().Add(30 * time.Second); live == ""; {
		ents, _ := os.ReadDir(ingest)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && e.Name() != filepath.Base(dead) && fi.Size() >= 1<<20 {
				live = filepath.Join(ingest, e.Name())
			}
		}
		if live == "" && time.Now().After(deadline) {
			t.Fatalf("the load wrote nothing to %s", ingest)
		}
		time.Sleep(10 * time.Millisecond)
	}

	buildCache := func() string {
		t.Helper()
		for _, l := range strings.Split(h.must(nil, "system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}"), "\n") {
			if rest, ok := strings.CutPrefix(l, "Build Cache|"); ok {
				return rest
			}
		}
		t.Fatal("system df has no Build Cache row")
		return ""
	}
	if got := buildCache(); !strings.HasPrefix(got, "3|1|") || strings.HasSuffix(got, "|0B") {
		t.Fatalf("system df Build Cache = %q, want 3 leftovers, 1 active, some reclaimable", got)
	}
	check := h.must(nil, "system", "check")
	if !strings.Contains(check, "interrupted blob write: content/ingest/"+filepath.Base(dead)) ||
		!strings.Contains(check, "layer directory without record: "+filepath.Base(orphan)) || strings.Contains(check, filepath.Base(live)) {
		t.Fatalf("system check:\n%s", check)
	}

	out := h.must(nil, "system", "prune", "-af")
	if strings.Contains(out, "Total reclaimed space: 0B") {
		t.Fatalf("system prune reclaimed nothing:\n%s", out)
	}
	for _, p := range []string{dead, orphan} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("system prune left %s", p)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("system prune removed the write of a live load: %v", err)
	}

	// Killed: its write is a leftover now, reclaimed at once.
	load.Process.Kill()
	load.Wait()
	if got := buildCache(); !strings.HasPrefix(got, "1|0|") || strings.HasSuffix(got, "|0B") {
		t.Fatalf("system df Build Cache after kill -9 = %q, want 1 reclaimable leftover", got)
	}
	h.must(nil, "system", "check", "--repair")
	if _, err := os.Stat(live); err == nil {
		t.Fatalf("system check --repair left the killed load's write %s", live)
	}
	if got := buildCache(); got != "0|0|0B|0B" {
		t.Fatalf("system df Build Cache after repair = %q", got)
	}
	h.checkClean()
}
