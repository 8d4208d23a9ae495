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

// Open is the build cache of a hoist root: its bucket in the root's
// metadata database (the one the image and layer stores use, so that a
// prune decides in one transaction).
func Open(root string) Bolt { return Bolt{DB: metadata.Open(root)} }

const cacheBucket = "buildcache"

// Get implements Store. With a lease in ctx (a build holds one) a hit's
// layer is added to it in the transaction that finds it, so that no prune
// removes it while the build goes on from it (a layer already in the lease
// costs no write).
func (c Bolt) Get(ctx context.Context, key digest.Digest) (Record, bool, error) {
	rec, found, held, err := c.get(ctx, key, c.DB.View, false)
	if err != nil || !found || held {
		return rec, found, err
	}
	rec, found, _, err = c.get(ctx, key, c.DB.Update, true)
	return rec, found, err
}

// get looks key up in a View or Update transaction (hold: add the record's
// layer to ctx's lease); held says the lease already protects that layer
// (or there is no lease to add it to).
func (c Bolt) get(ctx context.Context, key digest.Digest, txn func(context.Context, func(*metadata.Tx) error) error, hold bool) (rec Record, found, held bool, err error) {
	_, leased := metadata.LeaseFromContext(ctx)
	err = txn(ctx, func(tx *metadata.Tx) error {
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
		held = !leased
		if c := rec.ChainID(); c != "" {
			if _, err := layers.GetTx(tx, c); err != nil {
				return nil
			}
			res := layers.Resource(c)
			held = held || metadata.Holds(ctx, tx, res)
			if hold && !held {
				if err := metadata.AddResource(ctx, tx, res); err != nil {
					return err
				}
			}
		} else {
			held = true
		}
		found = true
		return nil
	})
	return rec, found, held, err
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
