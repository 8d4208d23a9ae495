package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/server/storage/s3test"
	"github.com/opencontainers/go-digest"
)

// TestChunkedUploadAcrossReplicas: a chunked upload started on one store
// continues on another (its state is in the storage), a wrong digest is
// refused with nothing visible, and the right one publishes the blob,
// readable (with ranges) from the first store.
func TestChunkedUploadAcrossReplicas(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		a, b := f.s, f.replica()
		data := make([]byte, 13<<20+12345) // parts of 5 MiB and a tail on S3
		rand.Read(data)
		want := digest.FromBytes(data)
		u, err := a.NewUpload(ctx, "split", "", "t")
		if err != nil {
			t.Fatal(err)
		}
		const chunk = 3<<20 + 7
		for i, off := 0, 0; off < len(data); i, off = i+1, off+chunk {
			end := min(off+chunk, len(data))
			s := a
			if i%2 == 1 {
				s = b
			}
			su, err := s.GetUpload(ctx, "split", u.ID())
			if err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
			if su.Offset() != int64(off) {
				t.Fatalf("chunk %d: offset %d, want %d", i, su.Offset(), off)
			}
			if _, err := su.Append(ctx, bytes.NewReader(data[off:end]), int64(off), int64(end-off)); err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
		}
		bu, err := b.GetUpload(ctx, "split", u.ID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bu.Commit(ctx, digest.FromString("something else")); !errdefs.IsDataLoss(err) {
			t.Fatalf("wrong digest: %v", err)
		}
		if a.BlobExists(ctx, digest.FromString("something else")) || a.BlobExists(ctx, want) {
			t.Fatal("a blob became visible before its digest was verified")
		}
		if _, err := bu.Commit(ctx, want); err != nil {
			t.Fatal(err)
		}
		r, err := a.OpenBlob(ctx, "split", want)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if size, err := r.Seek(0, io.SeekEnd); err != nil || size != int64(len(data)) {
			t.Fatalf("size %d: %v", size, err)
		}
		r.Seek(0, io.SeekStart)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back: %v (%d bytes)", err, len(got))
		}
		p := make([]byte, 1000)
		if _, err := r.ReadAt(p, 6<<20); err != nil || !bytes.Equal(p, data[6<<20:6<<20+1000]) {
			t.Fatalf("ReadAt: %v", err)
		}
		if _, err := b.GetUpload(ctx, "split", u.ID()); !errdefs.IsNotFound(err) {
			t.Fatalf("committed session still there: %v", err)
		}
		// A monolithic PUT larger than a part goes through a multipart
		// upload too; a wrong digest leaves nothing.
		if _, err := b.PutBlob(ctx, "mono", bytes.NewReader(data[:7<<20]), 7<<20, want); !errdefs.IsDataLoss(err) {
			t.Fatalf("monolithic with a wrong digest: %v", err)
		}
		d7 := digest.FromBytes(data[:7<<20])
		if _, err := b.PutBlob(ctx, "mono", bytes.NewReader(data[:7<<20]), 7<<20, d7); err != nil {
			t.Fatal(err)
		}
		if info, err := a.StatBlob(ctx, "mono", d7); err != nil || info.Size != 7<<20 {
			t.Fatalf("monolithic blob: %v %+v", err, info)
		}
	})
}

// TestS3StartErrors: a missing bucket, wrong credentials, an unreachable
// endpoint and an unusable AWS_CA_BUNDLE are refused at start with an error
// naming the bucket and endpoint (and the bundle).
func TestS3StartErrors(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	ctx := context.Background()
	cfg := S3Config{Bucket: bucket, RegionEndpoint: srv.Endpoint, ForcePathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
	if _, err := OpenS3(ctx, cfg); err != nil {
		t.Fatalf("good config: %v", err)
	}
	check := func(name string, c S3Config, wants ...string) {
		t.Helper()
		_, err := OpenS3(ctx, c)
		if err == nil {
			t.Fatalf("%s: opened", name)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", name, err, w)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*S3Config)
		wants  []string
	}{
		{"missing bucket", func(c *S3Config) { c.Bucket = "no-such-bucket" }, []string{`"no-such-bucket"`, srv.Endpoint, "does not exist"}},
		{"wrong secret", func(c *S3Config) { c.SecretKey = "wrong" }, []string{`"` + bucket + `"`, srv.Endpoint, "access denied"}},
		{"unknown access key", func(c *S3Config) { c.AccessKey = "nosuchkey" }, []string{`"` + bucket + `"`, srv.Endpoint, "access denied"}},
		{"invalid bucket name", func(c *S3Config) { c.Bucket = "b1" }, []string{`"b1"`, srv.Endpoint, "bucket name valid"}},
		{"half credentials", func(c *S3Config) { c.SecretKey = "" }, []string{"accesskey and secretkey"}},
		{"small chunks", func(c *S3Config) { c.ChunkSize = 1 << 20 }, []string{"chunksize"}},
	} {
		c := cfg
		tc.change(&c)
		check(tc.name, c, tc.wants...)
	}

	// AWS_CA_BUNDLE (set on these machines): irrelevant to an http
	// endpoint even when unreadable; an https endpoint names it.
	t.Setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem")
	if _, err := OpenS3(ctx, cfg); err != nil {
		t.Fatalf("http endpoint with an unreadable AWS_CA_BUNDLE: %v", err)
	}
	tls := cfg
	tls.RegionEndpoint = strings.Replace(srv.Endpoint, "http://", "https://", 1)
	check("https with an unreadable bundle", tls, "AWS_CA_BUNDLE=/nonexistent/ca.pem", `"`+bucket+`"`)

	srv.Kill()
	check("unreachable", cfg, `"`+bucket+`"`, srv.Endpoint, "cannot reach the S3 server", "connection refused")
}

// TestCommitWithAnotherAlgorithm: an upload is hashed as it arrives with
// the session's algorithm (sha256); committing it under a sha512 digest
// re-reads what was written (on S3 the multipart upload is completed
// first): a wrong sha512 digest is refused, the right one then publishes
// the blob, for a blob of several parts and for one shorter than a part.
func TestCommitWithAnotherAlgorithm(t *testing.T) {
	forEachDriver(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		for _, size := range []int{11<<20 + 99, 1000} {
			data := make([]byte, size)
			rand.Read(data)
			want := digest.SHA512.FromBytes(data)
			u, err := f.s.NewUpload(ctx, "alg", "", "t")
			if err != nil {
				t.Fatal(err)
			}
			const chunk = 4<<20 + 1
			for off := 0; off < len(data); off += chunk {
				end := min(off+chunk, len(data))
				if _, err := u.Append(ctx, bytes.NewReader(data[off:end]), int64(off), int64(end-off)); err != nil {
					t.Fatalf("%d bytes: chunk at %d: %v", size, off, err)
				}
			}
			if _, err := u.Commit(ctx, digest.SHA512.FromString("other")); !errdefs.IsDataLoss(err) {
				t.Fatalf("%d bytes: wrong sha512 digest: %v", size, err)
			}
			if f.s.BlobExists(ctx, want) {
				t.Fatalf("%d bytes: visible before its digest was verified", size)
			}
			u, err = f.s.GetUpload(ctx, "alg", u.ID())
			if err != nil {
				t.Fatalf("%d bytes: the session after a wrong digest: %v", size, err)
			}
			if _, err := u.Commit(ctx, want); err != nil {
				t.Fatalf("%d bytes: commit %s: %v", size, want, err)
			}
			r, err := f.s.OpenBlob(ctx, "alg", want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes: read back: %v (%d bytes)", size, err, len(got))
			}
		}
	})
}

// gatedReader delivers its first half, then waits for gate to close, then
// the rest.
type gatedReader struct {
	data    []byte
	off     int
	reached func()
	gate    <-chan struct{}
}

func (r *gatedReader) Read(p []byte) (int, error) {
	half := len(r.data) / 2
	if r.off == half && r.reached != nil {
		r.reached()
		r.reached = nil
		<-r.gate
	}
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	if r.off < half {
		end = half
	}
	n := copy(p, r.data[r.off:end])
	r.off += n
	return n, nil
}

// TestS3ConcurrentChunksOnOneSession: two replicas take a chunk for the
// same session at the same offset at the same time (each has read the
// session's state and half its chunk when the other starts): one wins,
// the other fails with ErrFailedPrecondition (the server's 416 with the
// session's range) and changes nothing, and the blob completes with the
// winner's bytes. Both chunks cross part boundaries and leave a tail.
func TestS3ConcurrentChunksOnOneSession(t *testing.T) {
	srv := s3test.Start(t)
	f := &fixture{t: t, srv: srv, bucket: srv.Bucket(t)}
	a, b := f.replica(), f.replica()
	ctx := context.Background()
	for round := range 3 {
		prefix := make([]byte, 3<<20)
		rand.Read(prefix)
		u, err := a.NewUpload(ctx, "race", "", "t")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Append(ctx, bytes.NewReader(prefix), 0, int64(len(prefix))); err != nil {
			t.Fatal(err)
		}
		chunks := [2][]byte{make([]byte, 8<<20+333), make([]byte, 8<<20+333)}
		rand.Read(chunks[0])
		rand.Read(chunks[1])
		gate := make(chan struct{})
		var halfway sync.WaitGroup
		halfway.Add(2)
		go func() { halfway.Wait(); close(gate) }()
		var errs [2]error
		var wg sync.WaitGroup
		for i, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				su, err := s.GetUpload(ctx, "race", u.ID())
				if err != nil {
					errs[i] = err
					halfway.Done()
					return
				}
				_, errs[i] = su.Append(ctx, &gatedReader{data: chunks[i], reached: halfway.Done, gate: gate}, int64(len(prefix)), int64(len(chunks[i])))
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both racing chunks were accepted", round)
			case !errdefs.IsFailedPrecondition(err):
				t.Fatalf("round %d: the loser's error: %v", round, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no chunk won: %v", round, errs)
		}
		t.Logf("round %d: replica %d won; the other: %v", round, winner, errs[1-winner])
		want := append(bytes.Clone(prefix), chunks[winner]...)
		su, err := b.GetUpload(ctx, "race", u.ID())
		if err != nil || su.Offset() != int64(len(want)) {
			t.Fatalf("round %d: session after the race: %v, offset %d, want %d", round, err, su.Offset(), len(want))
		}
		d := digest.FromBytes(want)
		if _, err := su.Commit(ctx, d); err != nil {
			t.Fatalf("round %d: commit of the winner's bytes: %v", round, err)
		}
		r, err := a.OpenBlob(ctx, "race", d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round %d: blob differs from the winner's bytes: %v", round, err)
		}
	}
	// The losers removed what they wrote: no multipart upload is left,
	// nor any session object.
	d := a.drv.(*s3Driver)
	mu, err := d.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &d.bucket})
	if err != nil || len(mu.Uploads) != 0 {
		t.Fatalf("multipart uploads left: %v %d", err, len(mu.Uploads))
	}
	if ents, err := d.List(ctx, "uploads"); err != nil || len(ents) != 0 {
		t.Fatalf("session objects left: %v %v", err, ents)
	}
}
