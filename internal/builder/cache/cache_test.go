package cache

import (
	"context"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

func TestKeyIsUnambiguous(t *testing.T) {
	p := digest.FromString("parent")
	if Key(p, "ab", "c") == Key(p, "a", "bc") {
		t.Error("the strings of a key are not delimited")
	}
	if k1, k2 := Key(p, "RUN x"), Key(p, "RUN x"); k1 != k2 {
		t.Error("Key is not deterministic")
	}
	if Key(p, "RUN x") == Key(digest.FromString("other"), "RUN x") {
		t.Error("the parent is not part of the key")
	}
}

// testStore: Get finds what Put stored (records without a layer: the
// layer check of Bolt does not apply), Probe answers per parent and
// per (parent, instruction).
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	parent := digest.FromString("parent")
	key := Key(parent, "ENV A=b")
	if _, ok, err := s.Get(ctx, key); ok || err != nil {
		t.Fatalf("Get of an empty store: %v %v", ok, err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := Record{Outcome: Outcome{ChainID: ""}, Created: created}
	if err := s.Put(ctx, []Entry{{Key: key, Parent: parent, Instr: "ENV A=b", Record: rec}}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, key)
	if !ok || err != nil || !got.Created.Equal(created) {
		t.Errorf("Get after Put: %+v %v %v", got, ok, err)
	}
	ps, is, err := s.Probe(ctx, parent, "ENV A=b")
	if !ps || !is || err != nil {
		t.Errorf("Probe(parent, instr) = %v %v %v", ps, is, err)
	}
	ps, is, _ = s.Probe(ctx, parent, "ENV A=c")
	if !ps || is {
		t.Errorf("Probe(parent, other instr) = %v %v", ps, is)
	}
	ps, is, _ = s.Probe(ctx, digest.FromString("x"), "ENV A=b")
	if ps || is {
		t.Errorf("Probe(other parent) = %v %v", ps, is)
	}
}

func TestMemory(t *testing.T) {
	m := NewMemory()
	testStore(t, m)
	if m.Len() != 1 {
		t.Errorf("Len = %d", m.Len())
	}
}

func TestBolt(t *testing.T) {
	b := Bolt{DB: metadata.Open(t.TempDir())}
	testStore(t, b)
	// A record whose layer is not in the layer store is a miss.
	ctx := context.Background()
	key := Key(digest.FromString("p"), "RUN x")
	rec := Record{Outcome: Outcome{DiffID: digest.FromString("d"), ChainID: digest.FromString("d")}}
	if err := b.Put(ctx, []Entry{{Key: key, Parent: digest.FromString("p"), Instr: "RUN x", Record: rec}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Get(ctx, key); ok || err != nil {
		t.Errorf("record without its layer: hit=%v err=%v", ok, err)
	}
}
