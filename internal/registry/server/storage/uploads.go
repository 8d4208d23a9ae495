package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// Upload is a resumable blob upload session. It holds nothing between
// requests: its state lives in the driver (uploads/<id>/ on a filesystem,
// an S3 multipart upload and uploads/<id>/ objects on S3) and each
// operation (Append, Commit, Cancel) opens the session (the filesystem
// driver flocks it, serialising requests on one session across processes),
// reloads the state, works and closes it again. Different sessions proceed
// in parallel.
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
	// S3 is the S3 driver's multipart state (nil on a filesystem).
	S3 *s3UploadState `json:"s3,omitempty"`
}

func (st *uploadState) algorithm(id string) (digest.Algorithm, error) {
	alg := digest.Algorithm(st.Algorithm)
	if !supportedAlgorithm(alg) {
		return "", errdefs.NotFoundf("upload %s has an unknown algorithm %q", id, alg)
	}
	return alg, nil
}

// algorithms are the digest algorithms blobs are stored under.
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

func supportedAlgorithm(alg digest.Algorithm) bool { return slices.Contains(algorithms, alg) }

// newWriteAlgorithm is the algorithm a new upload hashes with: alg, or
// sha256 when "", refused when not supported.
func newWriteAlgorithm(alg digest.Algorithm) (digest.Algorithm, error) {
	if alg == "" {
		return digest.Canonical, nil
	}
	if !supportedAlgorithm(alg) {
		return "", errdefs.InvalidArgumentf("unsupported digest algorithm %q", alg)
	}
	return alg, nil
}

// randomID is 32 random hex digits (upload sessions, ingest names).
func randomID() (string, error) {
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(rnd[:]), nil
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
	alg, err := newWriteAlgorithm(alg)
	if err != nil {
		return nil, err
	}
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	if err := s.reserveSession(id, repo, owner); err != nil {
		return nil, err
	}
	st := uploadState{Repository: repo, Algorithm: string(alg), StartedAt: time.Now().UTC(), Owner: owner, HashState: hashState(alg.Hash())}
	if err := s.drv.newSession(ctx, id, &st); err != nil {
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
		_, active, err := s.drv.readSession(context.Background(), id)
		if err != nil {
			s.forgetLocked(id)
			continue
		}
		if s.limits.MaxAge > 0 && time.Since(active) > s.limits.MaxAge {
			if gone, _ := s.drv.purgeSession(context.Background(), id); gone {
				s.forgetLocked(id)
			}
		}
	}
}

// loadIndexLocked builds the session index from uploads/ (sessions left by
// an earlier process count against the caps too).
func (s *Store) loadIndexLocked() {
	s.index, s.perRepo, s.perOwner = map[string]sessionEntry{}, map[string]int{}, map[string]int{}
	ids, _ := s.drv.sessionIDs(context.Background())
	for _, id := range ids {
		if !validUploadID(id) {
			continue
		}
		st, _, err := s.drv.readSession(context.Background(), id)
		if err != nil {
			continue
		}
		s.index[id] = sessionEntry{repo: st.Repository, owner: st.Owner}
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

// GetUpload finds session id of repo (sessions survive restarts). An
// unknown or expired session is errdefs.ErrNotFound. The offset reported is
// the live one while another request is writing a chunk.
func (s *Store) GetUpload(ctx context.Context, repo, id string) (*Upload, error) {
	if !validUploadID(id) {
		return nil, errdefs.NotFoundf("upload %q not found", id)
	}
	st, active, err := s.drv.readSession(ctx, id)
	if err != nil || st.Repository != repo {
		return nil, errdefs.NotFoundf("upload %s not found in repository %s", id, repo)
	}
	if maxAge := s.limitsSnapshot().MaxAge; maxAge > 0 && time.Since(active) > maxAge {
		if gone, _ := s.drv.purgeSession(ctx, id); gone {
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

// session is an Upload opened for one operation.
type session struct {
	u    *Upload
	io   sessionIO
	st   *uploadState
	alg  digest.Algorithm
	h    hash.Hash
	seen *atomic.Int64
}

// open opens the session in the driver (locked there where it can be) and
// loads it. A session whose state is gone (it was committed, cancelled or
// purged while we waited) is ErrNotFound.
func (u *Upload) open(ctx context.Context) (*session, error) {
	sio, err := u.s.drv.openSession(ctx, u.id)
	if err != nil {
		return nil, err
	}
	st := sio.state()
	alg, err := st.algorithm(u.id)
	if err == nil && st.Repository != u.repo {
		err = errdefs.NotFoundf("upload %s not found in repository %s", u.id, u.repo)
	}
	if err != nil {
		sio.close()
		return nil, err
	}
	ss := &session{u: u, io: sio, st: st, alg: alg, h: sio.hash(), seen: &atomic.Int64{}}
	ss.seen.Store(st.Offset)
	u.s.live.Store(u.id, ss.seen)
	u.offset = st.Offset
	return ss, nil
}

// close releases the session.
func (ss *session) close() {
	ss.u.s.live.Delete(ss.u.id)
	ss.io.close()
}

func (ss *session) save(ctx context.Context) error { return ss.io.checkpoint(ctx) }

// finish removes the session (while it is open).
func (ss *session) finish(ctx context.Context) {
	ss.io.remove(ctx)
	ss.u.s.forget(ss.u.id)
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
	ss, err := u.open(ctx)
	if err != nil {
		return u.offset, err
	}
	defer ss.close()
	if start >= 0 && start != ss.st.Offset {
		return u.offset, errdefs.FailedPreconditionf("upload %s: chunk starts at %d but %d bytes were received", u.id, start, ss.st.Offset)
	}
	n, err := ss.write(ctx, r)
	if serr := ss.save(ctx); serr != nil && err == nil {
		err = serr
	}
	u.offset = ss.st.Offset
	if errdefs.IsFailedPrecondition(err) {
		// Another request changed the session (S3: a race between
		// replicas): the offset to report is the one it left.
		if st, _, rerr := u.s.drv.readSession(ctx, u.id); rerr == nil {
			u.offset = st.Offset
		}
	}
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
			if werr := ss.io.write(ctx, buf[:nr]); werr != nil {
				return n, werr
			}
			ss.h.Write(buf[:nr])
			ss.st.Offset += int64(nr)
			ss.seen.Store(ss.st.Offset)
			n += int64(nr)
			// Checkpoint long chunks so that a crash loses little of them.
			if ss.st.Offset-saved >= checkpointBytes {
				if err := ss.save(ctx); err != nil {
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

// Commit finishes the session: the data must hash to expected before it
// becomes blob expected (the driver publishes it: a rename on a
// filesystem, completing the multipart upload on S3) and is linked into
// the repository. A mismatch is errdefs.ErrDataLoss and leaves the session
// open.
func (u *Upload) Commit(ctx context.Context, expected digest.Digest) (content.Info, error) {
	ss, err := u.open(ctx)
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
		if err := ss.io.readAll(ctx, dg.Hash()); err != nil {
			return content.Info{}, err
		}
		got = dg.Digest()
	}
	if got != expected {
		return content.Info{}, errdefs.DataLossf("blob digest mismatch: expected %s, got %s", expected, got)
	}
	if err := ss.io.publish(ctx, got); err != nil {
		return content.Info{}, err
	}
	if err := u.s.link(ctx, u.repo, got); err != nil {
		return content.Info{}, err
	}
	ss.finish(ctx)
	return content.Info{Digest: got, Size: ss.st.Offset, CreatedAt: time.Now()}, nil
}

// Cancel abandons the session and removes its data.
func (u *Upload) Cancel(ctx context.Context) error {
	ss, err := u.open(ctx)
	if err != nil {
		return err
	}
	defer ss.close()
	ss.finish(ctx)
	return nil
}

// PurgeUploads removes sessions not written to for longer than age (0:
// none) and returns how many it removed and the bytes their data held.
// Sessions in use are skipped.
func (s *Store) PurgeUploads(ctx context.Context, age time.Duration) (int, int64, error) {
	if age <= 0 {
		return 0, 0, nil
	}
	ids, err := s.drv.sessionIDs(ctx)
	if err != nil {
		return 0, 0, err
	}
	n, freed := 0, int64(0)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, freed, err
		}
		if _, active, _ := s.drv.readSession(ctx, id); !active.IsZero() && time.Since(active) < age {
			continue
		}
		if gone, size := s.drv.purgeSession(ctx, id); gone {
			s.forget(id)
			n++
			freed += size
		}
	}
	return n, freed, s.drv.purgeOrphans(ctx, age)
}
