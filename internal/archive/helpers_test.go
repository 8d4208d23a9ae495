package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// entry is one tar entry for mkTar: a header plus content for regular files.
type entry struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1600000000, 0)}, body: body}
}
func dirE(name string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: time.Unix(1600000000, 0)}}
}
func symlinkE(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: time.Unix(1600000000, 0)}}
}
func hardlinkE(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644, ModTime: time.Unix(1600000000, 0)}}
}

func mkTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Format == tar.FormatUnknown {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("writing header %q: %v", h.Name, err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// node describes one path of a tree, everything a round trip must keep.
type node struct {
	Mode   uint32 // st_mode, type bits included
	UID    uint32
	GID    uint32
	Size   int64
	Sum    string // sha256 of content (regular files)
	Link   string // symlink target
	Rdev   uint64
	Xattrs string // sorted name=value list, overlay attributes excluded
	Mtime  int64  // seconds (tars keep seconds)
	Ino    uint64 // for hardlink grouping only; not compared
	Nlink  uint64
}

func (n node) String() string {
	return fmt.Sprintf("mode=%o uid=%d gid=%d size=%d sum=%.12s link=%q rdev=%d xattrs=%q mtime=%d", n.Mode, n.UID, n.GID, n.Size, n.Sum, n.Link, n.Rdev, n.Xattrs, n.Mtime)
}

// snapshot records the tree at dir (dir itself excluded). withDirMtimes
// controls whether directory mtimes are recorded.
func snapshot(t testing.TB, dir string, withDirMtimes bool) map[string]node {
	t.Helper()
	out := make(map[string]node)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n := node{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Sec, Ino: st.Ino, Nlink: uint64(st.Nlink)}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			n.Sum = hex.EncodeToString(s[:])
			n.Size = st.Size
		case unix.S_IFLNK:
			n.Link, _ = os.Readlink(p)
		case unix.S_IFCHR, unix.S_IFBLK:
			n.Rdev = st.Rdev
		case unix.S_IFDIR:
			if !withDirMtimes {
				n.Mtime = 0
			}
		}
		x, err := listXattrs(-1, p)
		if err != nil {
			return err
		}
		var xs []string
		for k, v := range x {
			if !isOverlayXattr(k) && k != "security.selinux" {
				xs = append(xs, k+"="+string(v))
			}
		}
		sort.Strings(xs)
		n.Xattrs = strings.Join(xs, ",")
		out[rel] = n
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return out
}

func diffTrees(t testing.TB, want, got map[string]node) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		w, wok := want[k]
		g, gok := got[k]
		w.Ino, g.Ino, w.Nlink, g.Nlink = 0, 0, 0, 0
		switch {
		case !gok:
			t.Errorf("%s: missing (want %v)", k, w)
		case !wok:
			t.Errorf("%s: unexpected (got %v)", k, g)
		case w != g:
			t.Errorf("%s:\n want %v\n  got %v", k, w, g)
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatal("too many differences")
		}
	}
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown, mknod, trusted xattrs)")
	}
}

// listTar lists "name type mode mtime" lines of a tar.
func listTar(t testing.TB, data []byte) string {
	t.Helper()
	var b strings.Builder
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			if err.Error() == "EOF" {
				return b.String()
			}
			t.Fatal(err)
		}
		typ := map[byte]string{tar.TypeReg: "reg", tar.TypeDir: "dir", tar.TypeSymlink: "sym", tar.TypeLink: "link", tar.TypeChar: "char"}[h.Typeflag]
		fmt.Fprintf(&b, "%s %s %o %d\n", h.Name, typ, h.Mode, h.ModTime.Unix())
	}
}
