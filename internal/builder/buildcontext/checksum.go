package buildcontext

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Entry is one file, directory, symlink or special file selected by the
// sources of a COPY/ADD.
type Entry struct {
	Source int         // index into Selection.Sources
	Rel    string      // slash path relative to the context root
	Path   string      // slash path relative to the source ("." for the source itself)
	Info   fs.FileInfo // Lstat
	Link   string      // symlink target, for symlinks
}

// Selection is what a COPY/ADD reads from the context: the resolved
// sources and, in walk order, every entry under them.
type Selection struct {
	Sources []Source
	Entries []Entry
	// sums are the content digests of the regular entries, by entry index,
	// once Checksum ran; known says which hold the content of the file
	// Entry.Info describes (a file replaced between Select and Checksum
	// is not known).
	sums  [][32]byte
	known []bool
}

// Sum is the SHA-256 of the content of entry i, a regular file, as hashed
// by Checksum (from the stat cache or read): ok is false before Checksum,
// for other entries, and when the file hashed was not the one Info
// describes. COPY's incremental path (copier.Reuse) relies on it.
func (s *Selection) Sum(i int) (sum [32]byte, ok bool) {
	if i < 0 || i >= len(s.known) || !s.known[i] {
		return sum, false
	}
	return s.sums[i], true
}

// SameFile reports whether st (a stat of the file Entry i names, taken
// after it was read) is the file Info describes: same inode, size, mtime
// and ctime, the stat cache's identity.
func (s *Selection) SameFile(i int, st *syscall.Stat_t) bool {
	est, ok := s.Entries[i].Info.Sys().(*syscall.Stat_t)
	return ok && st != nil && keyOf(est) == keyOf(st)
}

// SelectOptions configure Select.
type SelectOptions struct {
	Exclude []string   // --exclude patterns, matched relative to each source
	Cache   *StatCache // optional: reuse directory listings
}

// Select resolves srcs (see Resolve) and lists every visible entry under
// them.
func (c *Context) Select(ctx context.Context, instr string, srcs []string, opts SelectOptions) (*Selection, error) {
	exclude := opts.Exclude
	sources, err := c.Resolve(ctx, instr, srcs)
	if err != nil {
		return nil, err
	}
	var extra *patternmatcher.PatternMatcher
	if len(exclude) > 0 {
		cleaned := make([]string, 0, len(exclude))
		for _, e := range exclude {
			neg := strings.HasPrefix(e, "!")
			e = path.Clean(strings.TrimPrefix(strings.TrimPrefix(e, "!"), "/"))
			if neg {
				e = "!" + e
			}
			cleaned = append(cleaned, e)
		}
		if extra, err = patternmatcher.New(cleaned); err != nil {
			return nil, errdefs.InvalidArgumentf("%s: invalid --exclude pattern: %v", instr, err)
		}
	}
	sel := &Selection{Sources: sources}
	for i, s := range sources {
		add := func(rel string, info fs.FileInfo) error {
			p := "."
			if rel != s.Rel {
				p = strings.TrimPrefix(rel, s.Rel+"/")
				if s.Rel == "." {
					p = rel
				}
			}
			e := Entry{Source: i, Rel: rel, Path: p, Info: info}
			if info.Mode()&fs.ModeSymlink != 0 {
				t, err := os.Readlink(c.abs(rel))
				if err != nil {
					return err
				}
				e.Link = t
			}
			sel.Entries = append(sel.Entries, e)
			return nil
		}
		if !s.Info.IsDir() {
			if err := add(s.Rel, s.Info); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.walkDepth(ctx, s.Rel, extra, 0, opts.Cache, add); err != nil {
			return nil, err
		}
	}
	return sel, nil
}

// ChecksumOptions configure Checksum.
type ChecksumOptions struct {
	Instruction string     // "COPY" or "ADD", for messages
	Exclude     []string   // --exclude patterns, relative to each source
	Cache       *StatCache // optional; makes re-hashing incremental
	Workers     int        // parallel readers; 0: the number of CPUs
}

// Checksum returns the cache-key digest of the context content selected by
// srcPatterns: for every source (pattern and resolved path) and every entry
// under it, in walk order, the path relative to the source, the type,
// permission and special mode bits, device number, size, symlink target
// and content SHA-256. mtime and the owner are not part of it.
func Checksum(ctx context.Context, c *Context, srcPatterns []string, opts ChecksumOptions) (digest.Digest, error) {
	sel, err := c.Select(ctx, opts.Instruction, srcPatterns, SelectOptions{Exclude: opts.Exclude, Cache: opts.Cache})
	if err != nil {
		return "", err
	}
	return sel.Checksum(ctx, c, opts)
}

// Checksum hashes a selection (see the function Checksum).
func (s *Selection) Checksum(ctx context.Context, c *Context, opts ChecksumOptions) (digest.Digest, error) {
	start := time.Now()
	if opts.Cache != nil {
		start = opts.Cache.now()
	}
	sums := make([][32]byte, len(s.Entries))
	known := make([]bool, len(s.Entries))
	var todo []int
	for i, e := range s.Entries {
		if !e.Info.Mode().IsRegular() {
			continue
		}
		st, ok := e.Info.Sys().(*syscall.Stat_t)
		if ok && opts.Cache != nil {
			if sum, hit := opts.Cache.lookup(e.Rel, st); hit {
				sums[i], known[i] = sum, true
				continue
			}
		}
		todo = append(todo, i)
	}
	if len(todo) > 0 {
		workers := opts.Workers
		if workers <= 0 {
			workers = runtime.NumCPU()
		}
		g, gctx := errgroup.WithContext(ctx)
		next := make(chan int)
		g.Go(func() error {
			defer close(next)
			for _, i := range todo {
				select {
				case next <- i:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
		for w := 0; w < workers; w++ {
			g.Go(func() error {
				buf := make([]byte, 256<<10)
				for i := range next {
					e := s.Entries[i]
					abs := c.abs(e.Rel)
					sum, st, err := hashFile(abs, buf)
					if err != nil {
						return fmt.Errorf("checksum %s: %w", e.Rel, err)
					}
					sums[i] = sum
					known[i] = s.SameFile(i, st)
					if opts.Cache != nil {
						opts.Cache.store(e.Rel, st, sum, start)
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return "", err
		}
	}
	s.sums, s.known = sums, known

	h := sha256.New()
	var line []byte
	for _, src := range s.Sources {
		line = append(line[:0], "source "...)
		line = strconv.AppendQuote(line, src.Pattern)
		line = append(line, ' ')
		line = strconv.AppendQuote(line, src.Rel)
		line = append(line, '\n')
		h.Write(line)
	}
	for i, e := range s.Entries {
		line = line[:0]
		line = strconv.AppendInt(line, int64(e.Source), 10)
		line = append(line, ' ')
		line = strconv.AppendInt(line, int64(len(e.Path)), 10)
		line = append(line, ':')
		line = append(line, e.Path...)
		mode := e.Info.Mode()
		line = append(line, ' ', typeChar(mode), ' ')
		line = strconv.AppendUint(line, uint64(unixPerm(mode)), 8)
		// The owner is not part of it: COPY and ADD give context files to
		// root (or --chown), so it cannot change the result, and leaving it
		// out lets another machine's checkout (another uid) match, as
		// docker's CLI sends the context owned by 0:0.
		if st, ok := e.Info.Sys().(*syscall.Stat_t); ok {
			if mode&(fs.ModeDevice|fs.ModeCharDevice) != 0 {
				line = append(line, " dev="...)
				line = strconv.AppendUint(line, uint64(unix.Major(st.Rdev)), 10)
				line = append(line, ',')
				line = strconv.AppendUint(line, uint64(unix.Minor(st.Rdev)), 10)
			}
		}
		switch {
		case mode.IsRegular():
			line = append(line, ' ')
			line = strconv.AppendInt(line, e.Info.Size(), 10)
			line = append(line, ' ')
			line = hex.AppendEncode(line, sums[i][:])
		case mode&fs.ModeSymlink != 0:
			line = append(line, " -> "...)
			line = strconv.AppendInt(line, int64(len(e.Link)), 10)
			line = append(line, ':')
			line = append(line, e.Link...)
		}
		line = append(line, '\n')
		h.Write(line)
	}
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), nil
}

// hashFile reads a regular file without following a symlink and returns
// its SHA-256 and the stat taken on the open file.
func hashFile(abs string, buf []byte) ([32]byte, *syscall.Stat_t, error) {
	var sum [32]byte
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return sum, nil, &fs.PathError{Op: "open", Path: abs, Err: err}
	}
	f := os.NewFile(uintptr(fd), abs)
	defer f.Close()
	st := new(syscall.Stat_t)
	if err := syscall.Fstat(fd, st); err != nil {
		return sum, nil, &fs.PathError{Op: "fstat", Path: abs, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return sum, nil, &fs.PathError{Op: "open", Path: abs, Err: fmt.Errorf("not a regular file")}
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.LimitReader(f, 1<<62), buf); err != nil {
		return sum, nil, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, st, nil
}

func typeChar(m fs.FileMode) byte {
	switch {
	case m.IsDir():
		return 'd'
	case m&fs.ModeSymlink != 0:
		return 'l'
	case m&fs.ModeNamedPipe != 0:
		return 'p'
	case m&fs.ModeSocket != 0:
		return 's'
	case m&fs.ModeCharDevice != 0:
		return 'c'
	case m&fs.ModeDevice != 0:
		return 'b'
	}
	return 'f'
}

// unixPerm is the permission and setuid/setgid/sticky bits as in st_mode.
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}
