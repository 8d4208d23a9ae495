package storage

import (
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// Upload is a resumable blob upload session. It holds no file descriptor:
// its state lives in uploads/<id>/ and each operation (Append, Commit,
// Cancel) opens the data file, takes an exclusive flock on it (serialising
// requests on one session, in this process and in others), reloads the
// state, works and closes the file again. Different sessions proceed in
// parallel.
type Upload struct {
	s      *Store
	id     string
	repo   string
	offset int64 // as of the last operation through this value
}

type uploadState struct {
	Repository string    `json:"repository"`
	Algorithm  string    `json:"algorithm"`
	Offset     int64     `json:"offset"`
	HashState  []byte    `json:"hashState,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	Owner      string    `json:"owner,omitempty"`
}

// UploadLimits bound the upload sessions of a Store. Zero values mean no
// limit.
type UploadLimits struct {
	// MaxAge: a session not written to for longer is expired (gone for
	// GetUpload, removed by PurgeUploads and when a cap is reached).
	MaxAge time.Duration
	// PerRepository caps the open sessions of one repository.
	PerRepository int
	// PerOwner caps the open sessions of one owner (the client: user name
	// or address, as the server names it).
	PerOwner int
}

// SetUploadLimits sets the limits NewUpload and GetUpload enforce.
func (s *Store) SetUploadLimits(l UploadLimits) {
	s.mu.Lock()
	s.limits = l
	s.mu.Unlock()
}

// sessionEntry is the in-memory index entry of an open session (for caps).
type sessionEntry struct{ repo, owner string }

func (s *Store) uploadDir(id string) string { return filepath.Join(s.root, "uploads", id) }

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// NewUpload starts an upload session in repo hashing with alg ("" =
// sha256) on behalf of owner. Beyond the caps of SetUploadLimits it is
// errdefs.ErrUnavailable (after expired and vanished sessions were dropped).
func (s *Store) NewUpload(ctx context.Context, repo string, alg digest.Algorithm, owner string) (*Upload, error) {
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
	if err := s.reserveSession(id, repo, owner); err != nil {
		return nil, err
	}
	dir := s.uploadDir(id)
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		var f *os.File
		f, err = os.OpenFile(filepath.Join(dir, "data"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			st := uploadState{Repository: repo, Algorithm: string(alg), StartedAt: time.Now().UTC(), Owner: owner}
			err = saveState(dir, &st, alg.Hash())
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		s.forget(id)
		return nil, err
	}
	return &Upload{s: s, id: id, repo: repo}, nil
}

// reserveSession enters id in the session index, enforcing the caps.
func (s *Store) reserveSession(id, repo, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		s.loadIndexLocked()
	}
	if s.overCapLocked(repo, owner) {
		// Drop what expired or was removed elsewhere, then count again.
		s.dropStaleLocked(repo, owner)
		if s.overCapLocked(repo, owner) {
			return errdefs.Unavailablef("too many open upload sessions (at most %d per repository, %d per client): finish or cancel some", s.limits.PerRepository, s.limits.PerOwner)
		}
	}
	s.index[id] = sessionEntry{repo: repo, owner: owner}
	s.perRepo[repo]++
	s.perOwner[owner]++
	return nil
}

func (s *Store) limitsSnapshot() UploadLimits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limits
}

func (s *Store) overCapLocked(repo, owner string) bool {
	l := s.limits
	return (l.PerRepository > 0 && s.perRepo[repo] >= l.PerRepository) ||
		(l.PerOwner > 0 && s.perOwner[owner] >= l.PerOwner)
}

// dropStaleLocked drops the index entries of repo's and owner's sessions
// whose directory is gone (committed, cancelled or purged by another
// process) and purges those idle for longer than MaxAge. It costs one stat
// per counted session, at most the caps, and runs only at a cap.
func (s *Store) dropStaleLocked(repo, owner string) {
	for id, e := range s.index {
		if e.repo != repo && e.owner != owner {
			continue
		}
		dir := s.uploadDir(id)
		if _, err := os.Stat(filepath.Join(dir, "state")); err != nil {
			s.forgetLocked(id)
			continue
		}
		if s.limits.MaxAge > 0 && time.Since(lastActive(dir)) > s.limits.MaxAge {
			if gone, _ := s.purgeOne(id); gone {
				s.forgetLocked(id)
			}
		}
	}
}

// loadIndexLocked builds the session index from uploads/ (sessions left by
// an earlier process count against the caps too).
func (s *Store) loadIndexLocked() {
	s.index, s.perRepo, s.perOwner = map[string]sessionEntry{}, map[string]int{}, map[string]int{}
	ents, _ := os.ReadDir(filepath.Join(s.root, "uploads"))
	for _, e := range ents {
		if !validUploadID(e.Name()) {
			continue
		}
		st, err := readState(s.uploadDir(e.Name()))
		if err != nil {
			continue
		}
		s.index[e.Name()] = sessionEntry{repo: st.Repository, owner: st.Owner}
		s.perRepo[st.Repository]++
		s.perOwner[st.Owner]++
	}
}

func (s *Store) forget(id string) {
	s.mu.Lock()
	s.forgetLocked(id)
	s.mu.Unlock()
}

func (s *Store) forgetLocked(id string) {
	e, ok := s.index[id]
	if !ok {
		return
	}
	delete(s.index, id)
	if s.perRepo[e.repo]--; s.perRepo[e.repo] <= 0 {
		delete(s.perRepo, e.repo)
	}
	if s.perOwner[e.owner]--; s.perOwner[e.owner] <= 0 {
		delete(s.perOwner, e.owner)
	}
}

func readState(dir string) (uploadState, error) {
	var st uploadState
	b, err := os.ReadFile(filepath.Join(dir, "state"))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("corrupt upload state: %w", err)
	}
	return st, nil
}

func saveState(dir string, st *uploadState, h hash.Hash) error {
	st.HashState = nil
	if m, ok := h.(encoding.BinaryMarshaler); ok {
		st.HashState, _ = m.MarshalBinary()
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "state"), b)
}

// lastActive is when the session in dir was last written to.
func lastActive(dir string) time.Time {
	last := time.Time{}
	for _, f := range []string{"state", "data"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.ModTime().After(last) {
			last = fi.ModTime()
		}
	}
	if last.IsZero() {
		if fi, err := os.Stat(dir); err == nil {
			last = fi.ModTime()
		}
	}
	return last
}

// GetUpload finds session id of repo (sessions survive restarts). An
// unknown or expired session is errdefs.ErrNotFound. The offset reported is
// the live one while another request is writing a chunk.
func (s *Store) GetUpload(ctx context.Context, repo, id string) (*Upload, error) {
	if !validUploadID(id) {
		return nil, errdefs.NotFoundf("upload %q not found", id)
	}
	dir := s.uploadDir(id)
	st, err := readState(dir)
	if err != nil || st.Repository != repo {
		return nil, errdefs.NotFoundf("upload %s not found in repository %s", id, repo)
	}
	if maxAge := s.limitsSnapshot().MaxAge; maxAge > 0 && time.Since(lastActive(dir)) > maxAge {
		if gone, _ := s.purgeOne(id); gone {
			s.forget(id)
			return nil, errdefs.NotFoundf("upload %s expired", id)
		}
	}
	u := &Upload{s: s, id: id, repo: repo, offset: st.Offset}
	if v, ok := s.live.Load(id); ok {
		u.offset = v.(*atomic.Int64).Load()
	}
	return u, nil
}

// session is an Upload opened for one operation: its data file open and
// flocked, its state and hash loaded.
type session struct {
	u    *Upload
	dir  string
	f    *os.File
	st   uploadState
	alg  digest.Algorithm
	h    hash.Hash
	seen *atomic.Int64
}

// open locks the session and loads it. A session whose state is gone (it
// was committed, cancelled or purged while we waited) is ErrNotFound. The
// data file is truncated to the saved offset (a crash may have left more);
// when the saved hash state cannot be used, the data is hashed again.
func (u *Upload) open() (*session, error) {
	dir := u.s.uploadDir(u.id)
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_RDWR, 0o600)
	if err != nil {
		return nil, errdefs.NotFoundf("upload %s not found", u.id)
	}
	if err := flock(f, syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	ss, err := u.load(dir, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	ss.seen = &atomic.Int64{}
	ss.seen.Store(ss.st.Offset)
	u.s.live.Store(u.id, ss.seen)
	u.offset = ss.st.Offset
	return ss, nil
}

func (u *Upload) load(dir string, f *os.File) (*session, error) {
	st, err := readState(dir)
	if err != nil {
		return nil, errdefs.NotFoundf("upload %s not found: %v", u.id, err)
	}
	if st.Repository != u.repo {
		return nil, errdefs.NotFoundf("upload %s not found in repository %s", u.id, u.repo)
	}
	alg := digest.Algorithm(st.Algorithm)
	if alg != digest.SHA256 && alg != digest.SHA512 {
		return nil, errdefs.NotFoundf("upload %s has an unknown algorithm %q", u.id, alg)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := alg.Hash()
	restored := false
	if st.Offset <= fi.Size() && len(st.HashState) > 0 {
		if um, ok := h.(encoding.BinaryUnmarshaler); ok && um.UnmarshalBinary(st.HashState) == nil {
			if st.Offset == fi.Size() || f.Truncate(st.Offset) == nil {
				restored = true
			}
		}
	}
	if !restored {
		h = alg.Hash()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		n, err := io.Copy(h, f)
		if err != nil {
			return nil, err
		}
		st.Offset = n
	}
	if _, err := f.Seek(st.Offset, io.SeekStart); err != nil {
		return nil, err
	}
	return &session{u: u, dir: dir, f: f, st: st, alg: alg, h: h}, nil
}

// close releases the lock and the descriptor.
func (ss *session) close() {
	ss.u.s.live.Delete(ss.u.id)
	ss.f.Close()
}

func (ss *session) save() error { return saveState(ss.dir, &ss.st, ss.h) }

// finish removes the session (under its lock).
func (ss *session) finish() {
	os.RemoveAll(ss.dir)
	ss.u.s.forget(ss.u.id)
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// ID is the session's identifier.
func (u *Upload) ID() string { return u.id }

// Repository is the repository the session uploads into.
func (u *Upload) Repository() string { return u.repo }

// Offset is the number of bytes received so far (as of the last operation).
func (u *Upload) Offset() int64 { return u.offset }

// Append writes a chunk. start is where the client says it begins (-1: at
// the current offset); size is its announced length (-1: unknown). A chunk
// that does not start at the current offset fails with
// errdefs.ErrFailedPrecondition and changes nothing. A short body is
// errdefs.ErrDataLoss; the bytes received are kept.
func (u *Upload) Append(ctx context.Context, r io.Reader, start, size int64) (int64, error) {
	ss, err := u.open()
	if err != nil {
		return u.offset, err
	}
	defer ss.close()
	if start >= 0 && start != ss.st.Offset {
		return u.offset, errdefs.FailedPreconditionf("upload %s: chunk starts at %d but %d bytes were received", u.id, start, ss.st.Offset)
	}
	n, err := ss.write(ctx, r)
	if serr := ss.save(); serr != nil && err == nil {
		err = serr
	}
	u.offset = ss.st.Offset
	if err != nil {
		return u.offset, err
	}
	if size >= 0 && n != size {
		return u.offset, errdefs.DataLossf("upload %s: chunk announced %d bytes but carried %d", u.id, size, n)
	}
	return u.offset, nil
}

func (ss *session) write(ctx context.Context, r io.Reader) (int64, error) {
	s := ss.u.s
	bufp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bufp)
	buf := *bufp
	var n int64
	saved := ss.st.Offset
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := r.Read(buf)
		if nr > 0 {
			nw, werr := ss.f.Write(buf[:nr])
			ss.h.Write(buf[:nw])
			ss.st.Offset += int64(nw)
			ss.seen.Store(ss.st.Offset)
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			// Checkpoint long chunks so that a crash loses little of them.
			if ss.st.Offset-saved >= checkpointBytes {
				if err := ss.save(); err != nil {
					return n, err
				}
				saved = ss.st.Offset
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			if rerr == io.ErrUnexpectedEOF {
				return n, errdefs.DataLossf("upload %s: body ended early: %v", ss.u.id, rerr)
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
	ss, err := u.open()
	if err != nil {
		return content.Info{}, err
	}
	defer ss.close()
	var got digest.Digest
	if expected.Algorithm() == ss.alg {
		got = digest.NewDigest(ss.alg, ss.h)
	} else {
		if !expected.Algorithm().Available() {
			return content.Info{}, errdefs.InvalidArgumentf("unsupported digest algorithm %q", expected.Algorithm())
		}
		dg := expected.Algorithm().Digester()
		if _, err := io.Copy(dg.Hash(), io.NewSectionReader(ss.f, 0, ss.st.Offset)); err != nil {
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
	} else if err := u.s.blobs.Adopt(ss.f, got); err != nil {
		return content.Info{}, fmt.Errorf("upload %s: %w", u.id, err)
	}
	if err := u.s.link(u.repo, got); err != nil {
		return content.Info{}, err
	}
	ss.finish()
	return content.Info{Digest: got, Size: ss.st.Offset, CreatedAt: time.Now()}, nil
}

// Cancel abandons the session and removes its data.
func (u *Upload) Cancel(ctx context.Context) error {
	ss, err := u.open()
	if err != nil {
		return err
	}
	defer ss.close()
	ss.finish()
	return nil
}

// purgeOne removes session id unless a request holds it; it reports
// whether the session is gone and how many bytes of data it freed. The
// caller updates the index.
func (s *Store) purgeOne(id string) (bool, int64) {
	dir := s.uploadDir(id)
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_RDONLY, 0)
	if err != nil {
		// No data: a crash between mkdir and create, or half removed.
		return errors.Is(err, os.ErrNotExist) && os.RemoveAll(dir) == nil, 0
	}
	defer f.Close()
	if flock(f, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false, 0 // in use
	}
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	if os.RemoveAll(dir) != nil {
		return false, 0
	}
	return true, size
}

// PurgeUploads removes sessions not written to for longer than age (0:
// none) and returns how many it removed and the bytes their data held.
// Sessions in use are skipped.
func (s *Store) PurgeUploads(ctx context.Context, age time.Duration) (int, int64, error) {
	if age <= 0 {
		return 0, 0, nil
	}
	ents, err := os.ReadDir(filepath.Join(s.root, "uploads"))
	if err != nil {
		return 0, 0, err
	}
	n, freed := 0, int64(0)
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return n, freed, err
		}
		id := e.Name()
		if time.Since(lastActive(s.uploadDir(id))) < age {
			continue
		}
		if gone, size := s.purgeOne(id); gone {
			s.forget(id)
			n++
			freed += size
		}
	}
	if _, err := s.blobs.PruneIngest(age); err != nil {
		return n, freed, err
	}
	return n, freed, nil
}
