package builder

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

// builder prune removes the copy indexes of layers that are gone, and
// with -a all of them (they can grow without bound otherwise).
func TestPruneCopyIndexes(t *testing.T) {
	dir := t.TempDir()
	idx := filepath.Join(dir, "copyindex")
	os.MkdirAll(idx, 0o700)
	kept, gone := digest.FromString("kept"), digest.FromString("gone")
	os.WriteFile(filepath.Join(idx, "a"), []byte(copyIndexMagic+kept.String()+"\n"), 0o600)
	os.WriteFile(filepath.Join(idx, "b"), []byte(copyIndexMagic+gone.String()+"\n"), 0o600)
	os.WriteFile(filepath.Join(idx, "c"), []byte("garbage"), 0o600)
	has := func(_ context.Context, c digest.Digest) (bool, error) { return c == kept, nil }
	if freed := PruneCopyIndexes(context.Background(), dir, false, has); freed == 0 {
		t.Error("nothing freed")
	}
	ents, _ := os.ReadDir(idx)
	if len(ents) != 1 || ents[0].Name() != "a" {
		t.Errorf("left %v, want only the index of the layer that exists", ents)
	}
	PruneCopyIndexes(context.Background(), dir, true, has)
	if ents, _ := os.ReadDir(idx); len(ents) != 0 {
		t.Errorf("prune -a left %v", ents)
	}
}
