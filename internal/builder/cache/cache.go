package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Outcome is what a step adds to the state: its history entry (nil for
// ONBUILD), its layer (DiffID "" when none) and the resulting top layer.
// Records store outcomes, not whole configs, so a build of n steps costs
// O(n), not O(n^2).
type Outcome struct {
	History *ocispec.History `json:"history,omitempty"`
	DiffID  digest.Digest    `json:"diffID,omitempty"`
	ChainID digest.Digest    `json:"chainID,omitempty"`
}

// Record is the result of a cached step: what it adds to the image
// (history entry, layer) and the resulting top layer, and when it ran.
type Record struct {
	Outcome Outcome   `json:"outcome"`
	Created time.Time `json:"created"`
}

// ChainID is the top layer of the state the record leads to.
func (r Record) ChainID() digest.Digest { return r.Outcome.ChainID }

// Entry is one step's record as stored: Key -> Record, plus the parent
// state and instruction text it came from (to explain later misses).
type Entry struct {
	Key    digest.Digest
	Parent digest.Digest
	Instr  string
	Record Record
}

// Store keeps step results across builds.
type Store interface {
	// Get returns the record of key.
	Get(ctx context.Context, key digest.Digest) (Record, bool, error)
	// Probe says whether any step ran on parent (parentSeen), and whether
	// the instruction text instr ran on it (instrSeen) whatever its inputs.
	Probe(ctx context.Context, parent digest.Digest, instr string) (parentSeen, instrSeen bool, err error)
	// Put stores entries (one transaction).
	Put(ctx context.Context, entries []Entry) error
}

// Key is the key of a step: the parent state's ID, the instruction text
// (variables expanded) and the step's other inputs (content checksums of
// COPY sources, values of build args used by RUN, mount specs, ...): a
// sha256 over the length-prefixed strings. The builder derives state IDs
// with it too.
func Key(parent digest.Digest, instr string, inputs ...string) digest.Digest {
	h := sha256.New()
	write := func(s string) {
		var n [8]byte
		l := uint64(len(s))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(s))
	}
	write(parent.String())
	write(instr)
	for _, in := range inputs {
		write(in)
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
}

// probeKey names (parent, instr) pairs in a Store's index.
func probeKey(parent digest.Digest, instr string) string {
	return Key(parent, instr).Encoded()
}

// Memory is a Store in memory (tests, and builds with a throw-away
// cache).
type Memory struct {
	mu      sync.Mutex
	records map[digest.Digest]Record
	parents map[digest.Digest]bool
	instrs  map[string]bool
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{records: map[digest.Digest]Record{}, parents: map[digest.Digest]bool{}, instrs: map[string]bool{}}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key digest.Digest) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[key]
	return r, ok, nil
}

// Probe implements Store.
func (m *Memory) Probe(_ context.Context, parent digest.Digest, instr string) (bool, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parents[parent], m.instrs[probeKey(parent, instr)], nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, entries []Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		m.records[e.Key] = e.Record
		m.parents[e.Parent] = true
		m.instrs[probeKey(e.Parent, e.Instr)] = true
	}
	return nil
}

// Len is the number of records.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}
