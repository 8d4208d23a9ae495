package buildcontext

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

const statCacheMagic = "hoist-statcache-v2\n"

// racyWindow: a file whose mtime or ctime is this close to (or after) the
// start of hashing may change again within the timestamp granularity, so
// its hash is used for this run but not persisted (git's "racy clean").
const racyWindow = time.Second

// maxCacheEntries bounds what a cache file may claim to hold.
const maxCacheEntries = 1 << 24

type statKey struct {
	size  uint64
	mtime int64
	ctime int64
	ino   uint64
}

type statEntry struct {
	key  statKey
	sum  [32]byte
	used bool // looked up or computed in this session
	racy bool // not to be persisted
}

type dirEntry struct {
	key   statKey
	names []string // sorted
	used  bool
	racy  bool
}

// StatCache remembers, for one context directory, the content SHA-256 of
// each file by its stat identity (size, mtime, ctime, inode) and the names
// in each directory by the directory's stat identity, so a no-op rebuild
// neither reads files nor lists unchanged directories. It is safe for
// concurrent use. See the package doc for the file format.
type StatCache struct {
	path string
	root string // the context directory the entries are relative to

	mu    sync.Mutex
	files map[string]*statEntry
	dirs  map[string]*dirEntry
	dirty bool

	hits, misses int

	// now is the clock used for the racy check (tests move it).
	now func() time.Time
}

// NewStatCache returns an in-memory cache that Save does not persist.
func NewStatCache() *StatCache {
	return &StatCache{files: map[string]*statEntry{}, dirs: map[string]*dirEntry{}, now: time.Now}
}

// OpenStatCache loads the cache persisted at path for the context
// directory root. A missing, truncated or foreign file, or one written for
// another directory, gives an empty cache (it is only an optimisation).
func OpenStatCache(path, root string) *StatCache {
	c := NewStatCache()
	c.path = path
	c.root = filepath.Clean(root)
	data, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	if err := c.decode(data); err != nil {
		c.files, c.dirs = map[string]*statEntry{}, map[string]*dirEntry{}
	}
	return c
}

// decoder reads the cache format from one string, so paths and names
// are substrings of it rather than separate allocations.
type decoder struct {
	s   string
	off int
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.off >= len(d.s) {
			panic(errCorrupt)
		}
		b := d.s[d.off]
		d.off++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
	}
	panic(errCorrupt)
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) bytes(n uint64) string {
	if n > uint64(len(d.s)-d.off) {
		panic(errCorrupt)
	}
	v := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return v
}

func (d *decoder) str() string { return d.bytes(d.uvarint()) }

func (d *decoder) key() statKey {
	return statKey{size: d.uvarint(), mtime: d.varint(), ctime: d.varint(), ino: d.uvarint()}
}

var errCorrupt = errors.New("corrupt stat cache")

func (c *StatCache) decode(data []byte) (err error) {
	if !bytes.HasPrefix(data, []byte(statCacheMagic)) {
		return errors.New("not a stat cache")
	}
	defer func() {
		if r := recover(); r != nil {
			if r != errCorrupt {
				panic(r)
			}
			err = errCorrupt
		}
	}()
	d := &decoder{s: string(data[len(statCacheMagic):])}
	if d.str() != c.root {
		return errors.New("stat cache of another directory")
	}
	nfiles := d.uvarint()
	if nfiles > maxCacheEntries || nfiles > uint64(len(d.s)) {
		return errCorrupt
	}
	c.files = make(map[string]*statEntry, nfiles)
	entries := make([]statEntry, nfiles)
	for i := range entries {
		p := d.str()
		e := &entries[i]
		e.key = d.key()
		copy(e.sum[:], d.bytes(32))
		c.files[p] = e
	}
	ndirs := d.uvarint()
	if ndirs > maxCacheEntries || ndirs > uint64(len(d.s)) {
		return errCorrupt
	}
	c.dirs = make(map[string]*dirEntry, ndirs)
	for i := uint64(0); i < ndirs; i++ {
		p := d.str()
		de := &dirEntry{key: d.key()}
		n := d.uvarint()
		if n > uint64(len(d.s)-d.off) {
			return errCorrupt
		}
		de.names = make([]string, n)
		for j := range de.names {
			de.names[j] = d.str()
		}
		c.dirs[p] = de
	}
	return nil
}

func keyOf(st *syscall.Stat_t) statKey {
	return statKey{
		size:  uint64(st.Size),
		mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec,
		ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
		ino:   st.Ino,
	}
}

func (c *StatCache) isRacy(k statKey, start time.Time) bool {
	limit := start.Add(-racyWindow).UnixNano()
	return k.mtime >= limit || k.ctime >= limit
}

// lookup returns the cached content hash of the context file rel if its
// stat identity is unchanged.
func (c *StatCache) lookup(rel string, st *syscall.Stat_t) ([32]byte, bool) {
	k := keyOf(st)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.files[rel]; ok && e.key == k {
		e.used = true
		c.hits++
		return e.sum, true
	}
	c.misses++
	return [32]byte{}, false
}

func (c *StatCache) store(rel string, st *syscall.Stat_t, sum [32]byte, start time.Time) {
	k := keyOf(st)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files[rel] = &statEntry{key: k, sum: sum, used: true, racy: c.isRacy(k, start)}
	c.dirty = true
}

// listing returns the cached sorted names of directory rel if its stat
// identity is unchanged.
func (c *StatCache) listing(rel string, st *syscall.Stat_t) ([]string, bool) {
	k := keyOf(st)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.dirs[rel]; ok && d.key == k {
		d.used = true
		return d.names, true
	}
	return nil, false
}

func (c *StatCache) storeListing(rel string, st *syscall.Stat_t, names []string) {
	k := keyOf(st)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirs[rel] = &dirEntry{key: k, names: names, used: true, racy: c.isRacy(k, c.now())}
	c.dirty = true
}

// Stats returns the number of files whose hash came from the cache and the
// number of files that had to be read, since the cache was opened.
func (c *StatCache) Stats() (hits, misses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// Save persists the entries used in this session (entries of files no
// longer selected are dropped) when anything changed, replacing the file
// atomically. A cache from NewStatCache is not saved.
func (c *StatCache) Save() error {
	if c.path == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	unused := false
	for _, e := range c.files {
		if !e.used {
			unused = true
			break
		}
	}
	if !c.dirty && !unused {
		return nil
	}
	var buf bytes.Buffer
	var tmp [binary.MaxVarintLen64]byte
	uv := func(v uint64) { buf.Write(tmp[:binary.PutUvarint(tmp[:], v)]) }
	sv := func(v int64) { buf.Write(tmp[:binary.PutVarint(tmp[:], v)]) }
	str := func(s string) { uv(uint64(len(s))); buf.WriteString(s) }
	key := func(k statKey) { uv(k.size); sv(k.mtime); sv(k.ctime); uv(k.ino) }
	buf.WriteString(statCacheMagic)
	str(c.root)
	n := 0
	for _, e := range c.files {
		if e.used && !e.racy {
			n++
		}
	}
	uv(uint64(n))
	for p, e := range c.files {
		if e.used && !e.racy {
			str(p)
			key(e.key)
			buf.Write(e.sum[:])
		}
	}
	n = 0
	for _, d := range c.dirs {
		if d.used && !d.racy {
			n++
		}
	}
	uv(uint64(n))
	for p, d := range c.dirs {
		if d.used && !d.racy {
			str(p)
			key(d.key)
			uv(uint64(len(d.names)))
			for _, name := range d.names {
				str(name)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("save stat cache: %w", err)
	}
	// Written and renamed, but not fsynced like fsutil.WriteFileAtomic: the
	// cache is only a hint (a lost or torn file is rebuilt), and an fsync
	// would cost every no-op rebuild.
	f, err := os.CreateTemp(filepath.Dir(c.path), ".statcache-*")
	if err != nil {
		return fmt.Errorf("save stat cache: %w", err)
	}
	_, err = f.Write(buf.Bytes())
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

// CacheFileName is a file name for the stat cache of the context directory
// dir (absolute), unique per directory: the builder keeps these files in a
// directory of its own.
func CacheFileName(dir string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(dir)))
	return "statcache-" + hex.EncodeToString(sum[:12])
}
