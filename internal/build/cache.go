package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// CacheRecord is the result of a cached step: what it adds to the image
// (history entry, layer) and the resulting top layer.
type CacheRecord struct {
	Outcome outcome   `json:"outcome"`
	Created time.Time `json:"created"`
}

// ChainID is the top layer of the state the record leads to.
func (r CacheRecord) ChainID() digest.Digest { return r.Outcome.ChainID }

// CacheEntry is one step's record as stored: Key -> Record, plus the parent
// state and instruction text it came from (to explain later misses).
type CacheEntry struct {
	Key    digest.Digest
	Parent digest.Digest
	Instr  string
	Record CacheRecord
}

// CacheStore keeps step results across builds.
type CacheStore interface {
	// Get returns the record of key.
	Get(ctx context.Context, key digest.Digest) (CacheRecord, bool, error)
	// Probe says whether any step ran on parent (parentSeen), and whether
	// the instruction text instr ran on it (instrSeen) whatever its inputs.
	Probe(ctx context.Context, parent digest.Digest, instr string) (parentSeen, instrSeen bool, err error)
	// Put stores entries (one transaction).
	Put(ctx context.Context, entries []CacheEntry) error
}

// cacheKey is the key of a step: the parent state's ID, the instruction text
// (variables expanded) and the step's other inputs (content checksums of
// COPY sources, values of build args used by RUN, mount specs, ...).
func cacheKey(parent digest.Digest, instr string, inputs ...string) digest.Digest {
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

// probeKey names (parent, instr) pairs in a CacheStore's index.
func probeKey(parent digest.Digest, instr string) string {
	return cacheKey(parent, instr).Encoded()
}

// MemoryCache is a CacheStore in memory (tests, and builds with a
// throw-away cache).
type MemoryCache struct {
	mu      sync.Mutex
	records map[digest.Digest]CacheRecord
	parents map[digest.Digest]bool
	instrs  map[string]bool
}

// NewMemoryCache returns an empty MemoryCache.
func NewMemoryCache() *MemoryCache {
	return &MemoryCache{records: map[digest.Digest]CacheRecord{}, parents: map[digest.Digest]bool{}, instrs: map[string]bool{}}
}

// Get implements CacheStore.
func (m *MemoryCache) Get(_ context.Context, key digest.Digest) (CacheRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[key]
	return r, ok, nil
}

// Probe implements CacheStore.
func (m *MemoryCache) Probe(_ context.Context, parent digest.Digest, instr string) (bool, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parents[parent], m.instrs[probeKey(parent, instr)], nil
}

// Put implements CacheStore.
func (m *MemoryCache) Put(_ context.Context, entries []CacheEntry) error {
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
func (m *MemoryCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}
