package cache

import (
	"context"
	"encoding/json"

	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

// Bolt is the Store in the metadata database:
//
//	buildcache/records/<key>       JSON Record
//	buildcache/parents/<state ID>  "" (a step ran on this state)
//	buildcache/instrs/<hash>       "" (this instruction ran on that state)
//
// A record whose layer is gone from the layer store (removed by rmi or
// prune: the cache does not hold layers) is a miss.
type Bolt struct{ DB *metadata.DB }

const cacheBucket = "buildcache"

// Get implements Store.
func (c Bolt) Get(ctx context.Context, key digest.Digest) (Record, bool, error) {
	var rec Record
	found := false
	err := c.DB.View(ctx, func(tx *metadata.Tx) error {
		b := metadata.ReadBucket(tx, cacheBucket, "records")
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil // a broken record is a miss
		}
		if c := rec.ChainID(); c != "" {
			if _, err := layers.GetTx(tx, c); err != nil {
				return nil
			}
		}
		found = true
		return nil
	})
	return rec, found, err
}

// Probe implements Store.
func (c Bolt) Probe(ctx context.Context, parent digest.Digest, instr string) (bool, bool, error) {
	var ps, is bool
	err := c.DB.View(ctx, func(tx *metadata.Tx) error {
		if b := metadata.ReadBucket(tx, cacheBucket, "parents"); b != nil {
			ps = b.Get([]byte(parent)) != nil
		}
		if b := metadata.ReadBucket(tx, cacheBucket, "instrs"); b != nil {
			is = b.Get([]byte(probeKey(parent, instr))) != nil
		}
		return nil
	})
	return ps, is, err
}

// Put implements Store.
func (c Bolt) Put(ctx context.Context, entries []Entry) error {
	return c.DB.Update(ctx, func(tx *metadata.Tx) error {
		rb, err := metadata.WriteBucket(tx, cacheBucket, "records")
		if err != nil {
			return err
		}
		pb, err := metadata.WriteBucket(tx, cacheBucket, "parents")
		if err != nil {
			return err
		}
		ib, err := metadata.WriteBucket(tx, cacheBucket, "instrs")
		if err != nil {
			return err
		}
		for _, e := range entries {
			v, err := json.Marshal(e.Record)
			if err != nil {
				return err
			}
			if err := rb.Put([]byte(e.Key), v); err != nil {
				return err
			}
			if err := pb.Put([]byte(e.Parent), []byte{}); err != nil {
				return err
			}
			if err := ib.Put([]byte(probeKey(e.Parent, e.Instr)), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
}
