package fsutil

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// Rotated is the name of the i-th older generation of a log file that its
// writer rotates by renaming PATH to PATH.1, PATH.1 to PATH.2, ... (PATH
// itself for 0).
func Rotated(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// RotatedFiles lists the older generations of the log at path that exist,
// oldest first (PATH.N ... PATH.1).
func RotatedFiles(path string) []string {
	var out []string
	for i := 1; ; i++ {
		if _, err := os.Stat(Rotated(path, i)); err != nil {
			break
		}
		out = append([]string{Rotated(path, i)}, out...)
	}
	return out
}

// FileLines calls fn with each complete line of the file name (with its
// '\n'; a torn last line is left out).
func FileLines(name string, fn func(line []byte)) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if len(l) > 0 && l[len(l)-1] == '\n' {
			fn(l)
		}
	}
	return nil
}

// LineFollower reads the lines appended to a rotated log (see Rotated) as
// they come, across rotations: when the log has been rotated since the
// last read, the rest of the file it had open comes first, then the
// generations rotated since, then the new file.
type LineFollower struct {
	path    string
	f       *os.File
	r       *bufio.Reader
	pending []byte
}

// FollowLines follows the log at path from f, open on it, at f's offset.
func FollowLines(path string, f *os.File) *LineFollower {
	return &LineFollower{path: path, f: f, r: bufio.NewReaderSize(f, 64*1024)}
}

// Lines calls fn with each complete line available now (with its '\n').
func (l *LineFollower) Lines(fn func(line []byte)) {
	l.readAvail(fn)
	nf := l.reopenIfRotated()
	if nf == nil {
		return
	}
	l.readAvail(fn) // the rest of the old file, the files rotated since, the new one
	for _, missed := range l.newerRotated() {
		FileLines(missed, fn)
	}
	l.f.Close()
	l.f, l.r, l.pending = nf, bufio.NewReaderSize(nf, 64*1024), nil
	l.readAvail(fn)
}

// Close closes the file being read.
func (l *LineFollower) Close() error { return l.f.Close() }

func (l *LineFollower) readAvail(fn func([]byte)) {
	for {
		b, err := l.r.ReadBytes('\n')
		l.pending = append(l.pending, b...)
		if err != nil {
			return
		}
		fn(l.pending)
		l.pending = nil
	}
}

// newerRotated lists, oldest first, the rotated files written after the
// one being read (when the log rotated more than once between two reads).
// If that file was rotated out altogether, every rotated file left is
// newer than it.
func (l *LineFollower) newerRotated() []string {
	fi, err := l.f.Stat()
	if err != nil {
		return nil
	}
	all := RotatedFiles(l.path) // oldest first
	for i, name := range all {
		if st, err := os.Stat(name); err == nil && os.SameFile(fi, st) {
			return all[i+1:]
		}
	}
	return all
}

// reopenIfRotated opens path when it is no longer the file being read (the
// writer rotated it); nil otherwise.
func (l *LineFollower) reopenIfRotated() *os.File {
	a, err1 := l.f.Stat()
	b, err2 := os.Stat(l.path)
	if err1 != nil || err2 != nil || os.SameFile(a, b) {
		return nil
	}
	nf, err := os.Open(l.path)
	if err != nil {
		return nil
	}
	return nf
}
