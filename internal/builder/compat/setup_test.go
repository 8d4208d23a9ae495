package compat

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// setupCtx adds what git cannot hold to a case's context dir: archives,
// special modes, links, empty dirs, odd names.
func setupCtx(t *testing.T, name, dir string) {
	t.Helper()
	if f := setups[name]; f != nil {
		c := &ctxMaker{t: t, dir: dir}
		f(c)
	}
}

// ctxMaker writes context files; every error fails the test.
type ctxMaker struct {
	t   *testing.T
	dir string
}

func (c *ctxMaker) p(name string) string { return filepath.Join(c.dir, filepath.FromSlash(name)) }

func (c *ctxMaker) check(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *ctxMaker) file(name, content string, mode os.FileMode) {
	c.t.Helper()
	c.check(os.MkdirAll(filepath.Dir(c.p(name)), 0o755))
	c.check(os.WriteFile(c.p(name), []byte(content), mode&0o777))
	c.check(syscall.Chmod(c.p(name), uint32(mode))) // raw bits: setuid 0o4000...
}

func (c *ctxMaker) dirs(mode os.FileMode, names ...string) {
	c.t.Helper()
	for _, n := range names {
		c.check(os.MkdirAll(c.p(n), 0o755))
		c.check(syscall.Chmod(c.p(n), uint32(mode)))
	}
}

func (c *ctxMaker) symlink(target, name string) {
	c.t.Helper()
	c.check(os.MkdirAll(filepath.Dir(c.p(name)), 0o755))
	c.check(os.Symlink(target, c.p(name)))
}

func (c *ctxMaker) write(name string, b []byte) {
	c.t.Helper()
	c.check(os.WriteFile(c.p(name), b, 0o644))
}

// tarEntry is one member of a generated archive.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
}

func mkTar(entries ...tarEntry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mt := time.Unix(1600000000, 0)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mt, Linkname: e.link, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		tw.WriteHeader(h)
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return b.Bytes()
}

var sampleTar = []tarEntry{
	{name: "top/", typ: tar.TypeDir, mode: 0o750, uid: 1000, gid: 1001},
	{name: "top/file.txt", body: "in the archive\n", uid: 1000, gid: 1001},
	{name: "top/exec.sh", body: "#!/bin/sh\n", mode: 0o755},
	{name: "top/link", link: "file.txt", typ: tar.TypeSymlink},
	// Same owner as its target, as tar writes it (docker applies a link
	// header's owner and mode to the shared inode; see add-archives/README).
	{name: "top/hard", link: "top/file.txt", typ: tar.TypeLink, uid: 1000, gid: 1001},
	{name: "root.txt", body: "root\n", mode: 0o600, uid: 33, gid: 33},
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func xzc(b []byte) []byte {
	var out bytes.Buffer
	w, _ := xz.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func zst(b []byte) []byte {
	var out bytes.Buffer
	w, _ := zstd.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func (c *ctxMaker) bzip2(name string, b []byte) {
	c.t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		c.t.Skip("bzip2 not installed")
	}
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	c.check(err)
	c.write(name, out)
}

var setups = map[string]func(c *ctxMaker){
	"add-archives": func(c *ctxMaker) {
		plain := mkTar(sampleTar...)
		c.write("plain.tar", plain)
		c.write("gzip.tar.gz", gz(plain))
		c.bzip2("bzip2.tar.bz2", plain)
		c.write("xz.tar.xz", xzc(plain))
		// A second archive over the first: replaces a file, adds one.
		c.write("over.tar", mkTar(tarEntry{name: "top/file.txt", body: "replaced\n"}, tarEntry{name: "top/new.txt", body: "new\n"}))
		// gzip of something that is not a tar: copied as is.
		c.write("notatar.gz", gz([]byte("just gzip\n")))
	},
	"add-archive-zstd": func(c *ctxMaker) {
		c.write("zstd.tar.zst", zst(mkTar(sampleTar...)))
	},
	"add-archive-whiteout": func(c *ctxMaker) {
		// ADD extracts like tar -x: a .wh. member is a plain file, not a
		// deletion.
		c.write("wh.tar", mkTar(tarEntry{name: ".wh.gone", body: ""}, tarEntry{name: "added", body: "added\n"}))
	},
	"add-dir-with-archive": func(c *ctxMaker) {
		// Archives inside an ADDed directory are copied, not extracted.
		c.check(os.MkdirAll(c.p("sub"), 0o755))
		c.write("sub/nested.tar", mkTar(tarEntry{name: "in-tar.txt", body: "in tar\n"}))
	},
	"copy-merge-existing": func(c *ctxMaker) {
		// A source dir whose mode differs from the existing destination.
		c.dirs(0o700, "etcdir")
		c.dirs(0o750, "etcdir/sub")
	},
	"add-chown": func(c *ctxMaker) {
		c.write("plain.tar", mkTar(sampleTar...))
	},
	"copy-symlinks": func(c *ctxMaker) {
		c.file("links/target.txt", "target\n", 0o644)
		c.file("links/dir/inside.txt", "inside\n", 0o644)
		c.symlink("target.txt", "links/rel-link")
		c.symlink("/etc/passwd", "links/abs-link")
		c.symlink("does-not-exist", "links/dangling")
		c.symlink("dir", "links/dir-link")
		c.symlink("../../../../etc/shadow", "links/escaping")
		c.symlink("dir/inside.txt", "links/nested-target")
	},
	"hardlinks": func(c *ctxMaker) {
		c.file("hard/a", "hardlinked\n", 0o644)
		c.check(os.Link(c.p("hard/a"), c.p("hard/b")))
		c.file("hard/c", "single\n", 0o644)
		c.write("hard.tar", mkTar(
			tarEntry{name: "x", body: "tar hardlink\n"},
			tarEntry{name: "sub/", typ: tar.TypeDir},
			tarEntry{name: "sub/y", link: "x", typ: tar.TypeLink},
		))
	},
	"modes-setuid": func(c *ctxMaker) {
		c.file("modes/suid", "s\n", 0o4755)
		c.file("modes/sgid", "g\n", 0o2755)
		c.file("modes/ro", "r\n", 0o444)
		c.file("modes/private", "p\n", 0o600)
		c.file("modes/exec", "x\n", 0o700)
		c.dirs(0o1777, "modes/sticky")
		c.dirs(0o700, "modes/private-dir")
		c.dirs(0o2775, "modes/setgid-dir")
		c.file("modes/private-dir/inner", "i\n", 0o640)
	},
	"empty-dirs": func(c *ctxMaker) {
		c.dirs(0o755, "tree/empty", "tree/nested/empty/deeper")
		c.dirs(0o700, "tree/private-empty")
		c.file("tree/nested/file", "f\n", 0o644)
	},
	"long-unicode-names": func(c *ctxMaker) {
		long := strings.Repeat("l", 200)
		c.file("names/"+long+".txt", "long name\n", 0o644)
		deep := "names/" + strings.Repeat("deep-directory-name/", 8) + "file-at-depth.txt"
		c.file(deep, "deep path over 100 bytes\n", 0o644)
		c.file("names/héllo wörld ✓.txt", "unicode\n", 0o644)
		c.file("names/日本語/ファイル.txt", "cjk\n", 0o644)
		c.file("names/emoji-🚀.txt", "rocket\n", 0o644)
		c.file("names/quote\"and'apos.txt", "quotes\n", 0o644)
		c.file("names/back\\slash.txt", "backslash\n", 0o644)
		c.symlink("héllo wörld ✓.txt", "names/link-to-ünïcödé")
	},
}
