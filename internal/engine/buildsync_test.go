package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A synced context is the same directory for the same key across builds,
// another for another key; prune leaves the one a build holds and removes
// the rest.
func TestSyncedBuildContext(t *testing.T) {
	e := New(Options{Root: t.TempDir()})
	dir, release, err := e.SyncedBuildContext("client\x00context")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("kept"), 0o644)
	other, releaseOther, err := e.SyncedBuildContext("client\x00dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if other == dir {
		t.Fatal("two keys share one directory")
	}
	releaseOther()
	if freed := pruneSyncedContexts(context.Background(), e.Root()); freed != 0 {
		t.Fatalf("prune freed %d bytes of an empty mirror", freed)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatalf("an unused mirror survived prune: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "kept" {
		t.Fatalf("prune removed a mirror in use: %q %v", b, err)
	}
	release()
	again, release, err := e.SyncedBuildContext("client\x00context")
	if err != nil || again != dir {
		t.Fatalf("the same key gave %q (%v), want %q", again, err, dir)
	}
	if b, _ := os.ReadFile(filepath.Join(again, "f")); string(b) != "kept" {
		t.Fatal("the mirror lost its files between builds")
	}
	release()
	if freed := pruneSyncedContexts(context.Background(), e.Root()); freed != 4 {
		t.Fatalf("prune freed %d bytes, want 4", freed)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("prune left the released mirror: %v", err)
	}
}
