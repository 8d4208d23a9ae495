package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/fsutil"
)

// sparseTar makes, with GNU tar -S, a tar of a 2 GiB file that is one hole
// and three bytes (a few KB).
func sparseTar(t *testing.T, format string) []byte {
	t.Helper()
	if out, err := exec.Command("tar", "--version").Output(); err != nil || !strings.Contains(string(out), "GNU tar") {
		t.Skip("GNU tar not installed")
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("end"), 2<<30-3)
	f.Close()
	out, err := exec.Command("tar", "-S", "--format="+format, "-C", dir, "-cf", "-", "big").Output()
	if err != nil {
		t.Fatalf("tar -S: %v", err)
	}
	return out
}

// TestSparseTarRefused: a sparse entry in an imported rootfs, in a loaded
// image's layer, or as a member of the archive itself fails with an error
// naming it, and nothing near its 2 GiB expanded size is written.
func TestSparseTarRefused(t *testing.T) {
	bin := hoistBinary(t)
	for _, format := range []string{"gnu", "posix"} {
		sp := sparseTar(t, format)
		t.Run(format, func(t *testing.T) {
			h := hoistRunner{t: t, bin: bin, root: t.TempDir()}
			expect := func(what string, stdin []byte, args ...string) {
				t.Helper()
				_, errOut, code := h.run(stdin, args...)
				if code != 1 || !strings.Contains(errOut, `"big": sparse files (GNU sparse format) are not supported`) {
					t.Fatalf("%s: exit %d, %q", what, code, errOut)
				}
				if n := fsutil.DirSize(h.root); n > 64<<20 {
					t.Fatalf("%s wrote %d bytes into the root", what, n)
				}
				if out := h.must(nil, "images", "-q"); out != "" {
					t.Fatalf("%s left an image: %q", what, out)
				}
				h.checkClean()
			}
			expect("import", sp, "import", "-", "sparse:1")

			// docker's pre-v25 layout: the sparse tar is the layer.
			sum := sha256.Sum256(sp)
			diffID := "sha256:" + hex.EncodeToString(sum[:])
			cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
				"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}}})
			csum := sha256.Sum256(cfg)
			cname := hex.EncodeToString(csum[:]) + ".json"
			mf, _ := json.Marshal([]savedManifest{{Config: cname, RepoTags: []string{"sparse:1"}, Layers: []string{"l/layer.tar"}}})
			expect("load of a sparse layer", writeTarMembers([]tarMember{{cname, cfg}, {"l/layer.tar", sp}, {"manifest.json", mf}}), "load")

			// The archive itself holds a sparse member.
			expect("load of a sparse archive member", sp, "load")
		})
	}
}
