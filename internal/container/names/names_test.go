package names

import (
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func TestReserve(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := s.Reserve("web", "id1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve("web", "id2"); !errdefs.IsConflict(err) {
		t.Fatalf("taken name: %v", err)
	}
	if err := s.Reserve("-bad", "id2"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("invalid name: %v", err)
	}
	if id, ok := s.Lookup("web"); !ok || id != "id1" {
		t.Fatalf("lookup: %q %v", id, ok)
	}
	s.Release("web", "id2") // not its owner: kept
	if _, ok := s.Lookup("web"); !ok {
		t.Fatal("released by another ID")
	}
	s.Release("web", "id1")
	if _, ok := s.Lookup("web"); ok {
		t.Fatal("not released")
	}
	if n := Generate(); !Valid(n) {
		t.Fatalf("generated %q is invalid", n)
	}
}

func TestValid(t *testing.T) {
	for name, want := range map[string]bool{"web": true, "a1": true, "x_y.z-1": true, "A": false, "a": false, "": false,
		"-web": false, "_web": false, ".web": false, "we b": false, "web/1": false, "wéb": false} {
		if got := Valid(name); got != want {
			t.Errorf("Valid(%q) = %v, want %v", name, got, want)
		}
	}
}
