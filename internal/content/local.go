package content

import (
	"context"
	"crypto/rand"
	_ "crypto/sha256" // registers the digest algorithms go-digest hashes with
	_ "crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Local is a Store on a local directory. It holds no mutable state besides
// the files, so several processes may share one root.
type Local struct {
	root string
}

var _ Store = (*Local)(nil)

// NewLocal opens (creating if needed) a store under root.
func NewLocal(root string) (*Local, error) {
	for _, d := range []string{"blobs/sha256", "blobs/sha512", "ingest"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("content store: %w", err)
		}
	}
	return &Local{root: root}, nil
}

// Root is the directory of the store.
func (s *Local) Root() string { return s.root }

// BlobPath is where the blob with this digest lives (it may not exist).
func (s *Local) BlobPath(dgst digest.Digest) (string, error) {
	if err := dgst.Validate(); err != nil {
		return "", errdefs.InvalidArgumentf("invalid digest %q: %v", dgst, err)
	}
	return filepath.Join(s.root, "blobs", string(dgst.Algorithm()), dgst.Encoded()), nil
}

// Info implements InfoProvider.
func (s *Local) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	p, err := s.BlobPath(dgst)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, errdefs.NotFoundf("blob %s not found", dgst)
		}
		return Info{}, err
	}
	return Info{Digest: dgst, Size: st.Size(), CreatedAt: st.ModTime()}, nil
}

// Open implements Provider.
func (s *Local) Open(ctx context.Context, dgst digest.Digest) (Reader, error) {
	p, err := s.BlobPath(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.NotFoundf("blob %s not found", dgst)
		}
		return nil, err
	}
	return f, nil
}

// Delete implements Manager. Deleting a missing blob is ErrNotFound.
func (s *Local) Delete(ctx context.Context, dgst digest.Digest) error {
	p, err := s.BlobPath(dgst)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errdefs.NotFoundf("blob %s not found", dgst)
		}
		return err
	}
	return nil
}

// Walk implements Manager. Files whose names are not valid digests are skipped.
func (s *Local) Walk(ctx context.Context, fn func(Info) error) error {
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		dir := filepath.Join(s.root, "blobs", string(alg))
		ents, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			d := digest.NewDigestFromEncoded(alg, e.Name())
			if d.Validate() != nil || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if err := fn(Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Writer implements Ingester.
func (s *Local) Writer(ctx context.Context, alg digest.Algorithm) (Writer, error) {
	if alg == "" {
		alg = digest.Canonical
	}
	if !alg.Available() || (alg != digest.SHA256 && alg != digest.SHA512) {
		return nil, errdefs.InvalidArgumentf("unsupported digest algorithm %q", alg)
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	// ingest/<pid>-<random>, locked while written: its owner is known
	// (Ingests) and a crash leaves a file nobody holds.
	p := filepath.Join(s.root, "ingest", fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(rnd[:])))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("content store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("content store: locking %s: %w", p, err)
	}
	return &localWriter{s: s, f: f, path: p, dg: alg.Digester()}, nil
}

// Ingest is a blob write in ingest/: in progress (Live) or left by a
// process that died.
type Ingest struct {
	Name    string
	Size    int64
	ModTime time.Time
	// Live: a running process owns the write.
	Live bool
}

// Ingests lists the blob writes in ingest/ and whether a live process owns
// each. A writer holds an exclusive flock on its file while it writes and
// names the file <pid>-<random>: a file whose lock can be taken belongs to
// nobody, unless its pid is alive and the file is younger than age (the
// instant between its creation and its lock; older, the pid was reused).
// A file without a pid in its name (written before owners were recorded)
// is live until it is older than age.
func (s *Local) Ingests(age time.Duration) ([]Ingest, error) {
	dir := filepath.Join(s.root, "ingest")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Ingest
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		in := Ingest{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()}
		in.Live = ingestOwned(filepath.Join(dir, e.Name()), e.Name(), time.Since(fi.ModTime()) < age)
		out = append(out, in)
	}
	return out, nil
}

// ingestOwned tells whether a live process owns the ingest file p.
func ingestOwned(p, name string, young bool) bool {
	pidStr, _, hasPid := strings.Cut(name, "-")
	pid, err := strconv.Atoi(pidStr)
	if !hasPid || err != nil || pid <= 0 {
		return young
	}
	f, err := os.Open(p)
	if err != nil {
		return false // gone, or not a file we can hold
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK) // the writer holds it
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return young && fsutil.ProcessAlive(pid)
}

// PruneIngests removes the ingest files no live process owns (Ingests)
// and returns them.
func (s *Local) PruneIngests(age time.Duration) ([]Ingest, error) {
	all, err := s.Ingests(age)
	if err != nil {
		return nil, err
	}
	var removed []Ingest
	for _, in := range all {
		if in.Live {
			continue
		}
		if os.RemoveAll(filepath.Join(s.root, "ingest", in.Name)) == nil {
			removed = append(removed, in)
		}
	}
	return removed, nil
}

// PruneIngest is PruneIngests, counting the files removed.
func (s *Local) PruneIngest(age time.Duration) (int, error) {
	removed, err := s.PruneIngests(age)
	return len(removed), err
}

type localWriter struct {
	s      *Local
	f      *os.File
	path   string
	dg     digest.Digester
	n      int64
	closed bool
}

func (w *localWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.dg.Hash().Write(p[:n])
	w.n += int64(n)
	return n, err
}

func (w *localWriter) Digest() digest.Digest { return w.dg.Digest() }
func (w *localWriter) Size() int64           { return w.n }

func (w *localWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.f.Close()
	return os.Remove(w.path)
}

func (w *localWriter) Commit(ctx context.Context, size int64, expected digest.Digest) (Info, error) {
	if w.closed {
		return Info{}, errors.New("content writer already closed")
	}
	got := w.dg.Digest()
	if size >= 0 && size != w.n {
		w.Close()
		return Info{}, errdefs.DataLossf("blob %s: size mismatch: expected %d bytes, got %d", orUnknown(expected), size, w.n)
	}
	if expected != "" && expected != got {
		w.Close()
		return Info{}, errdefs.DataLossf("blob digest mismatch: expected %s, got %s", expected, got)
	}
	w.closed = true
	err := w.s.Adopt(w.f, got)
	w.f.Close()
	if err != nil {
		os.Remove(w.path)
		return Info{}, err
	}
	return Info{Digest: got, Size: w.n, CreatedAt: time.Now()}, nil
}

// Adopt makes the file f, on the store's filesystem, the blob dgst: it is
// fsynced, made read-only and renamed into place, and the directory is
// fsynced. The caller must have verified that f's bytes hash to dgst (the
// registry's uploads hash while they receive). f stays open; on error the
// file is left where it was.
func (s *Local) Adopt(f *os.File, dgst digest.Digest) error {
	target, err := s.BlobPath(dgst)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync blob %s: %w", dgst, err)
	}
	if err := f.Chmod(0o444); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), target); err != nil {
		return fmt.Errorf("commit blob %s: %w", dgst, err)
	}
	return syncDir(filepath.Dir(target))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
