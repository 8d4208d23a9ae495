// Package testsuite is the one test suite every content.Store implementation
// runs (local, and the registry server's storage when it adopts the interface).
package testsuite

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// Run runs the suite against stores made by newStore (a fresh one per test).
func Run(t *testing.T, newStore func(t *testing.T) content.Store) {
	t.Run("WriteReadInfo", func(t *testing.T) { testWriteRead(t, newStore(t)) })
	t.Run("DigestMismatchNeverVisible", func(t *testing.T) { testMismatch(t, newStore(t)) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, newStore(t)) })
	t.Run("ConcurrentSameDigest", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("SHA512", func(t *testing.T) { testSHA512(t, newStore(t)) })
	t.Run("DeleteWalk", func(t *testing.T) { testDeleteWalk(t, newStore(t)) })
	t.Run("AbortDiscards", func(t *testing.T) { testAbort(t, newStore(t)) })
}

func testWriteRead(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := []byte("hello hoist")
	d := digest.FromBytes(data)
	info, err := content.WriteBlob(ctx, s, bytes.NewReader(data), int64(len(data)), d)
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != d || info.Size != int64(len(data)) {
		t.Fatalf("info = %+v", info)
	}
	got, err := content.ReadBlob(ctx, s, d, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %q, %v", got, err)
	}
	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 5)
	if _, err := r.ReadAt(buf, 6); err != nil || string(buf) != "hoist" {
		t.Fatalf("ReadAt = %q, %v", buf, err)
	}
	if _, err := content.ReadBlob(ctx, s, d, 3); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("limit not enforced: %v", err)
	}
	missing := digest.FromString("missing")
	if _, err := s.Info(ctx, missing); !errdefs.IsNotFound(err) {
		t.Fatalf("Info(missing) = %v, want not found", err)
	}
	if _, err := s.Open(ctx, missing); !errdefs.IsNotFound(err) {
		t.Fatalf("Open(missing) = %v, want not found", err)
	}
}

func testMismatch(t *testing.T, s content.Store) {
	ctx := context.Background()
	wrong := digest.FromString("something else")
	_, err := content.WriteBlob(ctx, s, strings.NewReader("payload"), -1, wrong)
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("want data loss error, got %v", err)
	}
	for _, d := range []digest.Digest{wrong, digest.FromString("payload")} {
		if ok, _ := content.Exists(ctx, s, d); ok {
			t.Fatalf("blob %s visible after failed verification", d)
		}
	}
}

func testSizeMismatch(t *testing.T, s content.Store) {
	_, err := content.WriteBlob(context.Background(), s, strings.NewReader("abc"), 4, "")
	if !errdefs.IsDataLoss(err) {
		t.Fatalf("want size mismatch, got %v", err)
	}
}

func testConcurrent(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("x"), 1<<20)
	d := digest.FromBytes(data)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := content.WriteBlob(ctx, s, bytes.NewReader(data), int64(len(data)), d)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := content.ReadBlob(ctx, s, d, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content after concurrent writes: %v", err)
	}
}

func testSHA512(t *testing.T, s content.Store) {
	ctx := context.Background()
	sum := sha512.Sum512([]byte("five twelve"))
	d := digest.NewDigestFromBytes(digest.SHA512, sum[:])
	if _, err := content.WriteBlob(ctx, s, strings.NewReader("five twelve"), -1, d); err != nil {
		t.Fatal(err)
	}
	if ok, err := content.Exists(ctx, s, d); !ok || err != nil {
		t.Fatalf("sha512 blob missing: %v", err)
	}
}

func testDeleteWalk(t *testing.T, s content.Store) {
	ctx := context.Background()
	var ds []digest.Digest
	for _, x := range []string{"a", "b", "c"} {
		info, err := content.WriteBlob(ctx, s, strings.NewReader(x), -1, "")
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, info.Digest)
	}
	if err := s.Delete(ctx, ds[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, ds[1]); !errdefs.IsNotFound(err) {
		t.Fatalf("second delete = %v", err)
	}
	seen := map[digest.Digest]bool{}
	if err := s.Walk(ctx, func(i content.Info) error { seen[i.Digest] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if !seen[ds[0]] || seen[ds[1]] || !seen[ds[2]] {
		t.Fatalf("walk saw %v", seen)
	}
	stop := errors.New("stop")
	if err := s.Walk(ctx, func(content.Info) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("walk did not return callback error: %v", err)
	}
}

func testAbort(t *testing.T, s content.Store) {
	ctx := context.Background()
	w, err := s.Writer(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "never committed")
	w.Close()
	if ok, _ := content.Exists(ctx, s, digest.FromString("never committed")); ok {
		t.Fatal("aborted write became visible")
	}
}
