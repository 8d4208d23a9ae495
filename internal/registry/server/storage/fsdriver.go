package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/opencontainers/go-digest"
)

// fsDriver is the filesystem driver: everything under one root directory
// (the layout in doc.go), blobs in a content.Local.
type fsDriver struct {
	root  string
	blobs *content.Local
}

func newFSDriver(root string) (*fsDriver, error) {
	blobs, err := content.NewLocal(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"uploads", "repositories"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("registry storage: %w", err)
		}
	}
	return &fsDriver{root: root, blobs: blobs}, nil
}

func (d *fsDriver) String() string       { return "directory " + d.root }
func (d *fsDriver) Blobs() content.Store { return d.blobs }
func (d *fsDriver) path(name string) string {
	return filepath.Join(d.root, filepath.FromSlash(name))
}

func (d *fsDriver) ReadFile(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(d.path(name))
}

func (d *fsDriver) WriteFile(_ context.Context, name string, data []byte) error {
	p := d.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(p, 0o600, func(w io.Writer) error { _, err := w.Write(data); return err })
}

func (d *fsDriver) Stat(_ context.Context, name string) (FileInfo, error) {
	var st syscall.Stat_t
	p := d.path(name)
	if err := syscall.Stat(p, &st); err != nil {
		return FileInfo{}, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	return FileInfo{
		Name: filepath.Base(p), Dir: st.Mode&syscall.S_IFMT == syscall.S_IFDIR, Size: st.Size,
		ModTime: time.Unix(st.Mtim.Unix()),
		Version: strconv.FormatUint(st.Ino, 16) + "-" + strconv.FormatInt(st.Size, 16) + "-" +
			strconv.FormatInt(st.Mtim.Nano(), 16) + "-" + strconv.FormatInt(st.Ctim.Nano(), 16),
	}, nil
}

func (d *fsDriver) List(_ context.Context, dir string) ([]FileInfo, error) {
	ents, err := os.ReadDir(d.path(dir))
	if err != nil {
		if notExist(err) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]FileInfo, 0, len(ents))
	for _, e := range ents {
		if len(e.Name()) > 0 && e.Name()[0] == '.' {
			continue // temporary files of WriteFileAtomic
		}
		fi := FileInfo{Name: e.Name(), Dir: e.IsDir()}
		if !fi.Dir {
			if !e.Type().IsRegular() {
				continue
			}
			if info, err := e.Info(); err == nil {
				fi.Size, fi.ModTime = info.Size(), info.ModTime()
			}
		}
		out = append(out, fi)
	}
	return out, nil
}

func (d *fsDriver) Remove(_ context.Context, name string) error { return os.Remove(d.path(name)) }

func (d *fsDriver) TouchBlob(_ context.Context, dg digest.Digest, older time.Duration) {
	p, err := d.blobs.BlobPath(dg)
	if err != nil {
		return
	}
	if older > 0 {
		if st, err := os.Stat(p); err != nil || time.Since(st.ModTime()) <= older {
			return
		}
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now)
}

func (d *fsDriver) LastUsed(_ context.Context, info content.Info) time.Time { return info.CreatedAt }

func (d *fsDriver) LockGC(exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(d.root, "gc.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// ---- upload sessions: uploads/<id>/{data,state}, flock on data per request

func (d *fsDriver) uploadDir(id string) string { return filepath.Join(d.root, "uploads", id) }

func (d *fsDriver) newSession(_ context.Context, id string, st *uploadState) error {
	dir := d.uploadDir(id)
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		var f *os.File
		f, err = os.OpenFile(filepath.Join(dir, "data"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			err = d.saveState(id, st)
		}
	}
	if err != nil {
		os.RemoveAll(dir)
	}
	return err
}

func (d *fsDriver) saveState(id string, st *uploadState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return d.WriteFile(context.Background(), "uploads/"+id+"/state", b)
}

func (d *fsDriver) readSession(_ context.Context, id string) (uploadState, time.Time, error) {
	dir := d.uploadDir(id)
	st, err := readStateFile(filepath.Join(dir, "state"))
	return st, lastActive(dir), err
}

func readStateFile(p string) (uploadState, error) {
	var st uploadState
	b, err := os.ReadFile(p)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("corrupt upload state: %w", err)
	}
	return st, nil
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

func (d *fsDriver) sessionIDs(_ context.Context) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.root, "uploads"))
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// purgeSession removes session id unless a request holds its flock.
func (d *fsDriver) purgeSession(_ context.Context, id string) (bool, int64) {
	dir := d.uploadDir(id)
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

func (d *fsDriver) purgeOrphans(_ context.Context, age time.Duration) error {
	_, err := d.blobs.PruneIngest(age)
	return err
}

// fsSession: the data file open and flocked for one request.
type fsSession struct {
	d   *fsDriver
	id  string
	dir string
	f   *os.File
	st  uploadState
	h   hash.Hash
}

// openSession locks the session and loads it. A session whose state is
// gone (committed, cancelled or purged while we waited) is ErrNotFound.
// The data file is truncated to the saved offset (a crash may have left
// more); when the saved hash state cannot be used, the data is hashed
// again.
func (d *fsDriver) openSession(_ context.Context, id string) (sessionIO, error) {
	dir := d.uploadDir(id)
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_RDWR, 0o600)
	if err != nil {
		return nil, errdefs.NotFoundf("upload %s not found", id)
	}
	if err := flock(f, syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	ss, err := d.load(id, dir, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return ss, nil
}

func (d *fsDriver) load(id, dir string, f *os.File) (*fsSession, error) {
	st, err := readStateFile(filepath.Join(dir, "state"))
	if err != nil {
		return nil, errdefs.NotFoundf("upload %s not found: %v", id, err)
	}
	alg, err := st.algorithm(id)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, restored := restoreHash(alg, st.HashState)
	if restored && st.Offset <= fi.Size() {
		restored = st.Offset == fi.Size() || f.Truncate(st.Offset) == nil
	} else {
		restored = false
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
	return &fsSession{d: d, id: id, dir: dir, f: f, st: st, h: h}, nil
}

func (ss *fsSession) state() *uploadState { return &ss.st }
func (ss *fsSession) hash() hash.Hash     { return ss.h }
func (ss *fsSession) write(_ context.Context, p []byte) error {
	_, err := ss.f.Write(p)
	return err
}

func (ss *fsSession) checkpoint(context.Context) error {
	ss.st.HashState = hashState(ss.h)
	return ss.d.saveState(ss.id, &ss.st)
}

func (ss *fsSession) readAll(_ context.Context, w io.Writer) error {
	_, err := io.Copy(w, io.NewSectionReader(ss.f, 0, ss.st.Offset))
	return err
}

// publish fsyncs the data and renames it into the blob store (no copy).
func (ss *fsSession) publish(ctx context.Context, dg digest.Digest) error {
	target, err := ss.d.blobs.BlobPath(dg)
	if err != nil {
		return err
	}
	if _, err := os.Stat(target); err == nil {
		ss.d.TouchBlob(ctx, dg, 0)
		return nil
	}
	if err := ss.d.blobs.Adopt(ss.f, dg); err != nil {
		return fmt.Errorf("upload %s: %w", ss.id, err)
	}
	return nil
}

func (ss *fsSession) remove(context.Context) { os.RemoveAll(ss.dir) }
func (ss *fsSession) close()                 { ss.f.Close() }
