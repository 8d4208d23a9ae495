package storage

import (
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// Upload is a resumable blob upload session. Its methods serialise on the
// session; different sessions proceed in parallel.
type Upload struct {
	s  *Store
	mu sync.Mutex
	id string

	repo    string
	alg     digest.Algorithm
	started time.Time
	offset  int64        // guarded by mu
	seen    atomic.Int64 // offset, readable while a chunk is being received
	h       hash.Hash
	f       *os.File // open for writing at offset; nil once finished
	done    bool
}

type uploadState struct {
	Repository string    `json:"repository"`
	Algorithm  string    `json:"algorithm"`
	Offset     int64     `json:"offset"`
	HashState  []byte    `json:"hashState,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
}

func (s *Store) uploadDir(id string) string { return filepath.Join(s.root, "uploads", id) }

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// NewUpload starts an upload session in repo hashing with alg ("" = sha256).
func (s *Store) NewUpload(ctx context.Context, repo string, alg digest.Algorithm) (*Upload, error) {
	if err := checkName(repo); err != nil {
		return nil, err
	}
	if alg == "" {
		alg = digest.Canonical
	}
	if alg != digest.SHA256 && alg != digest.SHA512 {
		return nil, errdefs.InvalidArgumentf("unsupported digest algorithm %q", alg)
	}
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(rnd[:])
	dir := s.uploadDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	u := &Upload{s: s, id: id, repo: repo, alg: alg, started: time.Now().UTC(), h: alg.Hash(), f: f}
	if err := u.saveState(); err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	s.mu.Lock()
	s.sessions[id] = u
	s.mu.Unlock()
	return u, nil
}

// GetUpload finds session id of repo, reloading it from disk after a restart.
// An unknown session is errdefs.ErrNotFound.
func (s *Store) GetUpload(ctx context.Context, repo, id string) (*Upload, error) {
	if !validUploadID(id) {
		return nil, errdefs.NotFoundf("upload %q not found", id)
	}
	s.mu.Lock()
	u, ok := s.sessions[id]
	s.mu.Unlock()
	if ok {
		if u.repo != repo {
			return nil, errdefs.NotFoundf("upload %s not found in repository %s", id, repo)
		}
		// Another process (hoist registry gc) may have purged it.
		if _, err := os.Stat(filepath.Join(s.uploadDir(id), "state")); err != nil {
			u.mu.Lock()
			if !u.done {
				u.finishLocked()
			}
			u.mu.Unlock()
			return nil, errdefs.NotFoundf("upload %s not found", id)
		}
		return u, nil
	}
	u, err := s.loadUpload(id)
	if err != nil {
		return nil, err
	}
	if u.repo != repo {
		u.f.Close()
		return nil, errdefs.NotFoundf("upload %s not found in repository %s", id, repo)
	}
	s.mu.Lock()
	if other, ok := s.sessions[id]; ok {
		s.mu.Unlock()
		u.f.Close()
		return other, nil
	}
	s.sessions[id] = u
	s.mu.Unlock()
	return u, nil
}

// loadUpload restores a session from uploads/<id>: the data is truncated to
// the last saved offset and the hash state restored; when the state cannot
// be used, the data received is hashed again.
func (s *Store) loadUpload(id string) (*Upload, error) {
	dir := s.uploadDir(id)
	b, err := os.ReadFile(filepath.Join(dir, "state"))
	if err != nil {
		return nil, errdefs.NotFoundf("upload %s not found", id)
	}
	var st uploadState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, errdefs.NotFoundf("upload %s has a corrupt state: %v", id, err)
	}
	alg := digest.Algorithm(st.Algorithm)
	if alg != digest.SHA256 && alg != digest.SHA512 {
		return nil, errdefs.NotFoundf("upload %s has an unknown algorithm %q", id, alg)
	}
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_RDWR, 0o600)
	if err != nil {
		return nil, errdefs.NotFoundf("upload %s has no data: %v", id, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	h := alg.Hash()
	restored := false
	if st.Offset <= fi.Size() && len(st.HashState) > 0 {
		if um, ok := h.(encoding.BinaryUnmarshaler); ok && um.UnmarshalBinary(st.HashState) == nil {
			if err := f.Truncate(st.Offset); err == nil {
				restored = true
			}
		}
	}
	if !restored {
		h = alg.Hash()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		n, err := io.Copy(h, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		st.Offset = n
	}
	if _, err := f.Seek(st.Offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	u := &Upload{s: s, id: id, repo: st.Repository, alg: alg, started: st.StartedAt, offset: st.Offset, h: h, f: f}
	u.seen.Store(st.Offset)
	return u, nil
}

func (u *Upload) saveState() error {
	st := uploadState{Repository: u.repo, Algorithm: string(u.alg), Offset: u.offset, StartedAt: u.started}
	if m, ok := u.h.(encoding.BinaryMarshaler); ok {
		st.HashState, _ = m.MarshalBinary()
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(u.s.uploadDir(u.id), "state"), b)
}

// ID is the session's identifier.
func (u *Upload) ID() string { return u.id }

// Repository is the repository the session uploads into.
func (u *Upload) Repository() string { return u.repo }

// Offset is the number of bytes received so far.
func (u *Upload) Offset() int64 { return u.seen.Load() }

// Append writes a chunk. start is where the client says it begins (-1: at
// the current offset); size is its announced length (-1: unknown). A chunk
// that does not start at the current offset fails with
// errdefs.ErrFailedPrecondition and changes nothing. A short body is
// errdefs.ErrDataLoss; the bytes received are kept.
func (u *Upload) Append(ctx context.Context, r io.Reader, start, size int64) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return 0, errdefs.NotFoundf("upload %s not found", u.id)
	}
	if start >= 0 && start != u.offset {
		return u.offset, errdefs.FailedPreconditionf("upload %s: chunk starts at %d but %d bytes were received", u.id, start, u.offset)
	}
	n, err := u.write(ctx, r)
	if serr := u.saveState(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return u.offset, err
	}
	if size >= 0 && n != size {
		return u.offset, errdefs.DataLossf("upload %s: chunk announced %d bytes but carried %d", u.id, size, n)
	}
	return u.offset, nil
}

func (u *Upload) write(ctx context.Context, r io.Reader) (int64, error) {
	bufp := u.s.bufs.Get().(*[]byte)
	defer u.s.bufs.Put(bufp)
	buf := *bufp
	var n int64
	saved := u.offset
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := r.Read(buf)
		if nr > 0 {
			nw, werr := u.f.Write(buf[:nr])
			u.h.Write(buf[:nw])
			u.offset += int64(nw)
			u.seen.Store(u.offset)
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			// Checkpoint long chunks so that a crash loses little of them.
			if u.offset-saved >= checkpointBytes {
				if err := u.saveState(); err != nil {
					return n, err
				}
				saved = u.offset
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			if rerr == io.ErrUnexpectedEOF {
				return n, errdefs.DataLossf("upload %s: body ended early: %v", u.id, rerr)
			}
			return n, rerr
		}
	}
}

// checkpointBytes is how often a long chunk's progress is saved.
const checkpointBytes = 16 << 20

// Commit finishes the session: the data must hash to expected. The data file
// is fsynced and renamed into the blob store and linked into the repository.
// A mismatch is errdefs.ErrDataLoss and leaves the session open.
func (u *Upload) Commit(ctx context.Context, expected digest.Digest) (content.Info, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return content.Info{}, errdefs.NotFoundf("upload %s not found", u.id)
	}
	var got digest.Digest
	if expected.Algorithm() == u.alg {
		got = digest.NewDigest(u.alg, u.h)
	} else {
		if !expected.Algorithm().Available() {
			return content.Info{}, errdefs.InvalidArgumentf("unsupported digest algorithm %q", expected.Algorithm())
		}
		r, err := os.Open(u.f.Name())
		if err != nil {
			return content.Info{}, err
		}
		dg := expected.Algorithm().Digester()
		_, err = io.Copy(dg.Hash(), io.LimitReader(r, u.offset))
		r.Close()
		if err != nil {
			return content.Info{}, err
		}
		got = dg.Digest()
	}
	if got != expected {
		return content.Info{}, errdefs.DataLossf("blob digest mismatch: expected %s, got %s", expected, got)
	}
	target, err := u.s.blobs.BlobPath(got)
	if err != nil {
		return content.Info{}, err
	}
	if _, err := os.Stat(target); err == nil {
		u.s.touch(got)
	} else {
		if err := u.s.blobs.Adopt(u.f, got); err != nil {
			return content.Info{}, fmt.Errorf("upload %s: %w", u.id, err)
		}
	}
	if err := u.s.link(u.repo, got); err != nil {
		return content.Info{}, err
	}
	u.finishLocked()
	return content.Info{Digest: got, Size: u.offset, CreatedAt: time.Now()}, nil
}

// Cancel abandons the session and removes its data.
func (u *Upload) Cancel(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return errdefs.NotFoundf("upload %s not found", u.id)
	}
	u.finishLocked()
	return nil
}

func (u *Upload) finishLocked() {
	u.done = true
	u.f.Close()
	os.RemoveAll(u.s.uploadDir(u.id))
	u.s.mu.Lock()
	delete(u.s.sessions, u.id)
	u.s.mu.Unlock()
}

// PurgeUploads removes sessions not written to for longer than age and
// returns how many it removed. Sessions in use are skipped.
func (s *Store) PurgeUploads(ctx context.Context, age time.Duration) (int, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "uploads"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		id := e.Name()
		dir := s.uploadDir(id)
		last := time.Time{}
		for _, f := range []string{"state", "data"} {
			if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.ModTime().After(last) {
				last = fi.ModTime()
			}
		}
		if last.IsZero() {
			if fi, err := e.Info(); err == nil {
				last = fi.ModTime()
			}
		}
		if time.Since(last) < age {
			continue
		}
		s.mu.Lock()
		u, live := s.sessions[id]
		s.mu.Unlock()
		if live {
			if !u.mu.TryLock() {
				continue
			}
			if !u.done {
				u.finishLocked()
				n++
			}
			u.mu.Unlock()
			continue
		}
		if os.RemoveAll(dir) == nil {
			n++
		}
	}
	if _, err := s.blobs.PruneIngest(age); err != nil {
		return n, err
	}
	return n, nil
}
