package content_test

import (
	"os"
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
