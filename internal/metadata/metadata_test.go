package metadata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func incr(ctx context.Context, db *DB) error {
	return db.Update(ctx, func(tx *Tx) error {
		b, err := WriteBucket(tx, "test", "counter")
		if err != nil {
			return err
		}
		var n uint64
		if v := b.Get([]byte("n")); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		return b.Put([]byte("n"), binary.BigEndian.AppendUint64(nil, n+1))
	})
}

func count(t *testing.T, db *DB) uint64 {
	t.Helper()
	var n uint64
	err := db.View(context.Background(), func(tx *Tx) error {
		if b := ReadBucket(tx, "test", "counter"); b != nil {
			n = binary.BigEndian.Uint64(b.Get([]byte("n")))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHelperProcess is run as a separate process by TestTwoProcesses.
func TestHelperProcess(t *testing.T) {
	root := os.Getenv("HOIST_METADATA_HELPER_ROOT")
	if root == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("HOIST_METADATA_HELPER_N"))
	db := Open(root)
	for range n {
		if err := incr(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	db := Open(t.TempDir())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if err := incr(context.Background(), db); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Readers in parallel with writers.
	for range 4 {
		wg.Go(func() {
			for range 25 {
				if err := db.View(context.Background(), func(tx *Tx) error { return nil }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := count(t, db); n != 200 {
		t.Fatalf("counter = %d, want 200 (lost updates)", n)
	}
}

func TestTwoProcesses(t *testing.T) {
	root := t.TempDir()
	var cmds []*exec.Cmd
	for range 2 {
		c := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		c.Env = append(os.Environ(), "HOIST_METADATA_HELPER_ROOT="+root, "HOIST_METADATA_HELPER_N=50")
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	db := Open(root)
	for range 50 {
		if err := incr(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	if n := count(t, db); n != 150 {
		t.Fatalf("counter = %d, want 150", n)
	}
}

func TestLockTimeoutAndCancel(t *testing.T) {
	db := Open(t.TempDir())
	db.LockTimeout = 200 * time.Millisecond
	held := make(chan struct{})
	release := make(chan struct{})
	go db.Update(context.Background(), func(tx *Tx) error {
		close(held)
		<-release
		return nil
	})
	<-held
	defer close(release)
	err := incr(context.Background(), db)
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("want unavailable error while locked, got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	db.LockTimeout = time.Hour
	if err := incr(ctx, db); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestLeases(t *testing.T) {
	ctx := context.Background()
	db := Open(t.TempDir())
	lctx, done, err := db.WithLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx *Tx) error { return AddResource(lctx, tx, "layer/x") }); err != nil {
		t.Fatal(err)
	}
	// A lease of a dead process.
	err = db.Update(ctx, func(tx *Tx) error {
		b, _ := WriteBucket(tx, leasesBucket, "dead")
		b.Put([]byte("info"), fmt.Appendf(nil, `{"pid":%d,"created":"%s"}`, 1<<30, time.Now().UTC().Format(time.RFC3339)))
		rb, _ := b.CreateBucketIfNotExists([]byte("res"))
		return rb.Put([]byte("layer/dead"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]bool
	db.View(ctx, func(tx *Tx) error { res = LeasedResources(tx); return nil })
	if !res["layer/x"] || res["layer/dead"] {
		t.Fatalf("leased: %v", res)
	}
	var n int
	var held map[string]bool
	db.Update(ctx, func(tx *Tx) error { n, held, err = PruneLeases(tx); return err })
	if n != 1 || len(held) != 1 || !held["layer/dead"] {
		t.Fatalf("pruned %d leases holding %v, want 1 holding layer/dead", n, held)
	}
	done()
	db.View(ctx, func(tx *Tx) error { res = LeasedResources(tx); return nil })
	if len(res) != 0 {
		t.Fatalf("after done: %v", res)
	}
}

func TestEmptyFileFromCrashedCreation(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(root+"/"+FileName, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := Open(root)
	if n := count(t, db); n != 0 {
		t.Fatalf("count %d", n)
	}
	if err := incr(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 1 {
		t.Fatalf("count %d", n)
	}
}
