package metadata

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hoistproject/hoist/internal/fsutil"
)

const leasesBucket = "leases"

// maxLeaseAge: a lease older than this is dead even if its pid is alive
// (pid reuse).
const maxLeaseAge = 24 * time.Hour

type leaseRecord struct {
	PID     int       `json:"pid"`
	Created time.Time `json:"created"`
}

type leaseKey struct{}

// WithLease creates a lease for the current process and returns a context
// carrying it; done deletes the lease (call it when the work is referenced
// by a durable record, or abandoned).
func (db *DB) WithLease(ctx context.Context) (context.Context, func(), error) {
	if _, ok := LeaseFromContext(ctx); ok {
		return ctx, func() {}, nil
	}
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	rec, _ := json.Marshal(leaseRecord{PID: os.Getpid(), Created: time.Now().UTC()})
	err := db.Update(ctx, func(tx *Tx) error {
		lb, err := WriteBucket(tx, leasesBucket, id)
		if err != nil {
			return err
		}
		return lb.Put([]byte("info"), rec)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating lease: %w", err)
	}
	done := func() {
		// Use a fresh context: the work's context may be cancelled.
		_ = db.Update(context.WithoutCancel(ctx), func(tx *Tx) error {
			lb := ReadBucket(tx, leasesBucket)
			if lb == nil || lb.Bucket([]byte(id)) == nil {
				return nil
			}
			return lb.DeleteBucket([]byte(id))
		})
	}
	return context.WithValue(ctx, leaseKey{}, id), done, nil
}

// LeaseFromContext returns the lease ID carried by ctx.
func LeaseFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(leaseKey{}).(string)
	return id, ok
}

// AddResource records in tx that the lease of ctx (if any) protects res,
// and takes res out of the trash.
func AddResource(ctx context.Context, tx *Tx, res string) error {
	if err := Claim(tx, res); err != nil {
		return err
	}
	id, ok := LeaseFromContext(ctx)
	if !ok {
		return nil
	}
	lb := ReadBucket(tx, leasesBucket, id)
	if lb == nil {
		return fmt.Errorf("lease %s vanished", id)
	}
	rb, err := lb.CreateBucketIfNotExists([]byte("res"))
	if err != nil {
		return err
	}
	return rb.Put([]byte(res), nil)
}

// Holds reports whether the lease of ctx (if any) already protects res.
func Holds(ctx context.Context, tx *Tx, res string) bool {
	id, ok := LeaseFromContext(ctx)
	if !ok {
		return false
	}
	rb := ReadBucket(tx, leasesBucket, id, "res")
	return rb != nil && rb.Get([]byte(res)) != nil
}

// DropResources removes res from the lease of ctx (if any) in tx: the work
// no longer needs them. Whether they may then be deleted is for the caller
// to decide, under the same transaction, from LeasedResources (the other
// live leases) and the records that name them.
func DropResources(ctx context.Context, tx *Tx, res ...string) error {
	id, ok := LeaseFromContext(ctx)
	if !ok {
		return nil
	}
	rb := ReadBucket(tx, leasesBucket, id, "res")
	if rb == nil {
		return nil
	}
	for _, r := range res {
		if err := rb.Delete([]byte(r)); err != nil {
			return err
		}
	}
	return nil
}

// LeasedResources returns the resources protected by live leases.
func LeasedResources(tx *Tx) map[string]bool {
	out := map[string]bool{}
	lb := ReadBucket(tx, leasesBucket)
	if lb == nil {
		return out
	}
	_ = lb.ForEachBucket(func(k []byte) error {
		b := lb.Bucket(k)
		if !leaseLive(b) {
			return nil
		}
		if rb := b.Bucket([]byte("res")); rb != nil {
			_ = rb.ForEach(func(r, _ []byte) error {
				out[string(r)] = true
				return nil
			})
		}
		return nil
	})
	return out
}

func leaseLive(b *Bucket) bool {
	var rec leaseRecord
	if err := json.Unmarshal(b.Get([]byte("info")), &rec); err != nil {
		return false
	}
	return time.Since(rec.Created) <= maxLeaseAge && fsutil.ProcessAlive(rec.PID)
}

// PruneLeases deletes the leases of dead processes in tx and returns how
// many it removed and the resources they held. Whether those may then be
// deleted is for the caller to decide, under the same transaction, as for
// DropResources: their owner died before a record named them.
func PruneLeases(tx *Tx) (int, map[string]bool, error) {
	held := map[string]bool{}
	lb := ReadBucket(tx, leasesBucket)
	if lb == nil {
		return 0, held, nil
	}
	var dead [][]byte
	_ = lb.ForEachBucket(func(k []byte) error {
		b := lb.Bucket(k)
		if leaseLive(b) {
			return nil
		}
		dead = append(dead, append([]byte(nil), k...))
		if rb := b.Bucket([]byte("res")); rb != nil {
			_ = rb.ForEach(func(r, _ []byte) error {
				held[string(r)] = true
				return nil
			})
		}
		return nil
	})
	for _, k := range dead {
		if err := lb.DeleteBucket(k); err != nil {
			return 0, nil, err
		}
	}
	return len(dead), held, nil
}

// AddResources records, in its own transaction, that the lease of ctx
// protects res (e.g. blobs a load or pull wrote before any record names
// them), and takes them out of the trash.
func (db *DB) AddResources(ctx context.Context, res ...string) error {
	if len(res) == 0 {
		return nil
	}
	return db.Update(ctx, func(tx *Tx) error {
		for _, r := range res {
			if err := AddResource(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	})
}
