package buildcontext

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

const statCacheMagic = "hoist-statcache-v1\n"

// racyWindow: a file whose mtime or ctime is this close to (or after) the
// start of hashing may change again within the timestamp granularity, so
// its hash is used for this run but not persisted (git's "racy clean").
const racyWindow = time.Second

type statKey struct {
	size  uint64
	mtime int64
	ctime int64
	ino   uint64
}

type statEntry struct {
	key statKey
	sum [32]byte
}

// StatCache maps a file's absolute path and stat identity (size, mtime,
// ctime, inode) to its content SHA-256, so unchanged files are not read
// again. It is safe for concurrent use. See the package doc for the file
// format.
type StatCache struct {
	path string

	mu    sync.Mutex
	old   map[string]statEntry // loaded from disk
	cur   map[string]statEntry // used or computed in this session
	racy  map[string]bool      // entries of cur not to persist
	dirty bool

	hits, misses int

	// now is the clock used for the racy-file check (tests move it).
	now func() time.Time
}

// NewStatCache returns an in-memory cache that Save does not persist.
func NewStatCache() *StatCache {
	return &StatCache{old: map[string]statEntry{}, cur: map[string]statEntry{}, racy: map[string]bool{}, now: time.Now}
}

// OpenStatCache loads the cache persisted at path. A missing, truncated or
// foreign file gives an empty cache (it is only an optimisation).
func OpenStatCache(path string) *StatCache {
	c := NewStatCache()
	c.path = path
	data, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	if m, err := decodeStatCache(data); err == nil {
		c.old = m
	}
	return c
}

func decodeStatCache(data []byte) (map[string]statEntry, error) {
	if !bytes.HasPrefix(data, []byte(statCacheMagic)) {
		return nil, errors.New("not a stat cache")
	}
	r := bytes.NewReader(data[len(statCacheMagic):])
	m := map[string]statEntry{}
	for r.Len() > 0 {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > 1<<16 || int(n) > r.Len() {
			return nil, errors.New("corrupt stat cache")
		}
		p := make([]byte, n)
		io.ReadFull(r, p)
		var e statEntry
		if e.key.size, err = binary.ReadUvarint(r); err != nil {
			return nil, err
		}
		if e.key.mtime, err = binary.ReadVarint(r); err != nil {
			return nil, err
		}
		if e.key.ctime, err = binary.ReadVarint(r); err != nil {
			return nil, err
		}
		if e.key.ino, err = binary.ReadUvarint(r); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, e.sum[:]); err != nil {
			return nil, err
		}
		m[string(p)] = e
	}
	return m, nil
}

func keyOf(st *syscall.Stat_t) statKey {
	return statKey{
		size:  uint64(st.Size),
		mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec,
		ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
		ino:   st.Ino,
	}
}

// lookup returns the cached content hash of abs if its stat identity is
// unchanged.
func (c *StatCache) lookup(abs string, st *syscall.Stat_t) ([32]byte, bool) {
	k := keyOf(st)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[abs]; ok && e.key == k {
		c.hits++
		return e.sum, true
	}
	if e, ok := c.old[abs]; ok && e.key == k {
		c.cur[abs] = e
		c.hits++
		return e.sum, true
	}
	c.misses++
	return [32]byte{}, false
}

func (c *StatCache) store(abs string, st *syscall.Stat_t, sum [32]byte, start time.Time) {
	k := keyOf(st)
	limit := start.Add(-racyWindow).UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur[abs] = statEntry{key: k, sum: sum}
	if k.mtime >= limit || k.ctime >= limit {
		c.racy[abs] = true
	} else {
		delete(c.racy, abs)
	}
	c.dirty = true
}

// Stats returns the number of lookups answered from the cache and the
// number of files that had to be read, since the cache was opened.
func (c *StatCache) Stats() (hits, misses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// Save persists the entries used in this session (entries of files no
// longer selected are dropped) when anything changed. It replaces the file
// atomically. A cache from NewStatCache is not saved.
func (c *StatCache) Save() error {
	if c.path == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty && len(c.cur) == len(c.old) {
		return nil
	}
	var buf bytes.Buffer
	buf.WriteString(statCacheMagic)
	var tmp [binary.MaxVarintLen64]byte
	for p, e := range c.cur {
		if c.racy[p] {
			continue
		}
		buf.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(p)))])
		buf.WriteString(p)
		buf.Write(tmp[:binary.PutUvarint(tmp[:], e.key.size)])
		buf.Write(tmp[:binary.PutVarint(tmp[:], e.key.mtime)])
		buf.Write(tmp[:binary.PutVarint(tmp[:], e.key.ctime)])
		buf.Write(tmp[:binary.PutUvarint(tmp[:], e.key.ino)])
		buf.Write(e.sum[:])
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("save stat cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(c.path), ".statcache-*")
	if err != nil {
		return fmt.Errorf("save stat cache: %w", err)
	}
	w := bufio.NewWriter(f)
	_, err = w.Write(buf.Bytes())
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save stat cache %s: %w", c.path, err)
	}
	c.dirty = false
	return nil
}
