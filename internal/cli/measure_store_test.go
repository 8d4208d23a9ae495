package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/images"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestMeasureCLI1000 times the binary's `images`, `inspect` and `tag` with
// 1,000 images in the store (target < 50 ms each). Only with HOIST_MEASURE=1.
func TestMeasureCLI1000(t *testing.T) {
	if os.Getenv("HOIST_MEASURE") == "" {
		t.Skip("set HOIST_MEASURE=1 to time the CLI with 1,000 images")
	}
	bin := hoistBinary(t)
	root := t.TempDir()
	h := hoistRunner{t, bin, root}
	h.must(nil, "import", rootfsTar(t, map[string]string{"f": "x"}), "base")
	s, err := images.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := s.Get(context.Background(), "base")
	for i := range 1000 {
		created := time.Now().Add(-time.Duration(i) * time.Minute)
		cfg := images.Config{Created: &created, Architecture: "amd64", OS: "linux",
			Config: images.ContainerConfig{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}, Labels: map[string]string{"i": fmt.Sprint(i)}},
			RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{f.Layers[0].DiffID}}}
		raw, _ := json.Marshal(cfg)
		if _, err := s.Create(context.Background(), images.NewImage{Config: raw, Names: []string{fmt.Sprintf("repo%d/app:v%d", i%40, i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"images"}, {"images", "-a", "--digests"}, {"inspect", "repo7/app:v487"}, {"tag", "repo7/app:v487", "x:1"}, {"image", "inspect", "-f", "{{.Id}}", "x:1"}} {
		var ds []time.Duration
		for range 9 {
			c := exec.Command(bin, append([]string{"--root", root}, args...)...)
			start := time.Now()
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v %s", args, err, out)
			}
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("hoist %v with 1,001 images: median %v (min %v)", args, ds[4].Round(100*time.Microsecond), ds[0].Round(100*time.Microsecond))
	}
}
