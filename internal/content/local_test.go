package content_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/content/testsuite"
)

func TestLocal(t *testing.T) {
	testsuite.Run(t, func(t *testing.T) content.Store {
		s, err := content.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestLocalPruneIngestAndNoLeftovers(t *testing.T) {
	root := t.TempDir()
	s, err := content.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, "ingest", "stale")
	os.WriteFile(stale, []byte("x"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	if n, err := s.PruneIngest(time.Hour); err != nil || n != 1 {
		t.Fatalf("PruneIngest = %d, %v", n, err)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "ingest"))
	if len(ents) != 0 {
		t.Fatalf("ingest not empty: %v", ents)
	}
}

// TestLocalIngestOwners: a write in progress is kept however old it is (its
// writer holds the lock), a write of a dead process is removed however
// young it is, a write named without a pid only by its age.
func TestLocalIngestOwners(t *testing.T) {
	root := t.TempDir()
	s, err := content.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Writer(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write([]byte("in progress"))
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "ingest")
	dead := fmt.Sprintf("%d-0123", gone.Process.Pid)
	os.WriteFile(filepath.Join(dir, dead), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "legacy"), []byte("x"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != dead && e.Name() != "legacy" {
			os.Chtimes(filepath.Join(dir, e.Name()), old, old) // the live write
		}
	}
	removed, err := s.PruneIngests(time.Hour)
	if err != nil || len(removed) != 1 || removed[0].Name != dead {
		t.Fatalf("PruneIngests = %v, %v; want only %s", removed, err, dead)
	}
	left, _ := s.Ingests(time.Hour)
	if len(left) != 2 || !left[0].Live || !left[1].Live {
		t.Fatalf("left: %+v, want the live write and the young legacy one, both live", left)
	}
	if _, err := w.Commit(context.Background(), -1, ""); err != nil {
		t.Fatal(err)
	}
}
