package builder

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/hoistproject/hoist/internal/builder/copier"
)

func imageTree(t *testing.T, w *fakeWorld, r built) string {
	t.Helper()
	img := w.images[r.res.ID.String()]
	dir, _, err := w.View(context.Background(), img.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

type fileWant struct {
	content  string
	mode     os.FileMode
	uid, gid uint32
}

func checkFile(t *testing.T, root, p string, want fileWant) {
	t.Helper()
	full := filepath.Join(root, p)
	fi, err := os.Lstat(full)
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	b, _ := os.ReadFile(full)
	st := fi.Sys().(*syscall.Stat_t)
	if string(b) != want.content || fi.Mode().Perm() != want.mode || st.Uid != want.uid || st.Gid != want.gid {
		t.Errorf("%s: content %q mode %o owner %d:%d, want %q %o %d:%d", p, b, fi.Mode().Perm(), st.Uid, st.Gid, want.content, want.mode, want.uid, want.gid)
	}
}

func TestCopySemantics(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	dir := writeCtx(t, map[string]string{
		"dir/a.txt":     "a",
		"dir/sub/b.txt": "b",
		"one.txt":       "1",
		"two.txt":       "2",
		"skip.log":      "ignored",
		"dir/x.log":     "ignored too",
		".dockerignore": "*.log\ndir/*.log\n",
	})
	os.Chmod(filepath.Join(dir, "one.txt"), 0o640)
	os.Symlink("one.txt", filepath.Join(dir, "dir/link"))
	df := `FROM busybox
WORKDIR /w
COPY dir /contents
COPY dir /nested/
COPY one.txt rel/
COPY one.txt /renamed
COPY *.txt /multi/
COPY --chown=app:appgrp --chmod=600 one.txt /owned
COPY --chown=1234 two.txt /numeric
COPY <<EOF /inline.txt
hello
EOF
`
	r := mustBuild(t, b, df, Options{Context: openCtx(t, dir)})
	root := imageTree(t, w, r)
	checkFile(t, root, "contents/a.txt", fileWant{"a", 0o644, 0, 0})
	checkFile(t, root, "contents/sub/b.txt", fileWant{"b", 0o644, 0, 0})
	checkFile(t, root, "nested/a.txt", fileWant{"a", 0o644, 0, 0})
	checkFile(t, root, "w/rel/one.txt", fileWant{"1", 0o640, 0, 0})
	checkFile(t, root, "renamed", fileWant{"1", 0o640, 0, 0})
	checkFile(t, root, "multi/one.txt", fileWant{"1", 0o640, 0, 0})
	checkFile(t, root, "multi/two.txt", fileWant{"2", 0o644, 0, 0})
	checkFile(t, root, "owned", fileWant{"1", 0o600, 1000, 1001})
	checkFile(t, root, "numeric", fileWant{"2", 0o644, 1234, 1234})
	checkFile(t, root, "inline.txt", fileWant{"hello\n", 0o644, 0, 0})
	if tgt, err := os.Readlink(filepath.Join(root, "contents/link")); err != nil || tgt != "one.txt" {
		t.Errorf("symlink copied as %q, %v", tgt, err)
	}
	for _, p := range []string{"contents/x.log", "multi/skip.log", "skip.log"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s copied despite .dockerignore", p)
		}
	}
	// The history names the content as docker's classic builder does
	// (file:/dir:/multi: and a sha256), which --cache-from matches.
	for i, re := range map[int]string{
		2: `^COPY dir:[0-9a-f]{64} in /contents$`,
		4: `^COPY file:[0-9a-f]{64} in rel/$`,
		6: `^COPY multi:[0-9a-f]{64} in /multi/$`,
		7: `^COPY --chown=app:appgrp --chmod=600 file:[0-9a-f]{64} in /owned$`,
		9: `^COPY file:[0-9a-f]{64} in /inline.txt$`,
	} {
		if got := createdBy(r.cfg)[i]; !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("COPY history %q, want %s", got, re)
		}
	}
	if a, b := createdBy(r.cfg)[4], createdBy(r.cfg)[5]; strings.Fields(a)[1] != strings.Fields(b)[1] {
		t.Errorf("the same source, two hashes: %q, %q", a, b)
	}
}

func TestCopyBadInput(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	dir := writeCtx(t, map[string]string{"a": "a", "b": "b"})
	os.Symlink("/etc/shadow", filepath.Join(dir, "shadow"))
	cases := map[string]string{
		"FROM busybox\nCOPY ../x /x\n":             "outside the build context",
		"FROM busybox\nCOPY missing /x\n":          "missing",
		"FROM busybox\nCOPY a b /x\n":              "must be a directory",
		"FROM busybox\nCOPY shadow /x\n":           "outside the build context",
		"FROM busybox\nCOPY --chown=nobody a /x\n": "nobody",
		"FROM busybox\nCOPY --chmod=u+x a /x\n":    "--chmod",
		"FROM busybox\nCOPY nomatch* /x/\n":        "no source files",
	}
	for df, want := range cases {
		r := doBuild(t, b, df, Options{Context: openCtx(t, dir)})
		if r.err == nil || !strings.Contains(r.err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", df, r.err, want)
		}
		if r.err != nil && !strings.Contains(r.err.Error(), "Dockerfile:2") {
			t.Errorf("%q: error does not name the line: %v", df, r.err)
		}
	}
	// A directory copy keeps the link to /etc/shadow as a link.
	r := mustBuild(t, b, "FROM busybox\nCOPY . /ctx/\n", Options{Context: openCtx(t, dir)})
	root := imageTree(t, w, r)
	if tgt, err := os.Readlink(filepath.Join(root, "ctx/shadow")); err != nil || tgt != "/etc/shadow" {
		t.Errorf("link = %q, %v", tgt, err)
	}
}

func TestCopyNeverWritesThroughImageSymlinks(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	outside := t.TempDir()
	// The image has /evil -> <outside>; COPY of a directory named evil must
	// stay inside the rootfs.
	r0 := mustBuild(t, b, "FROM busybox\nRUN echo x > /marker\n", Options{Tags: []string{"withlink"}})
	root := imageTree(t, w, r0)
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		t.Fatal(err)
	}
	dir := writeCtx(t, map[string]string{"evil/f": "data", "g": "g"})
	mustBuild(t, b, "FROM withlink\nCOPY . /\nCOPY g /evil/g2\n", Options{Context: openCtx(t, dir)})
	ents, _ := os.ReadDir(outside)
	if len(ents) != 0 {
		t.Errorf("COPY wrote outside the rootfs: %v", ents)
	}
}

func TestAddURLCacheFollowsRemoteContent(t *testing.T) {
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	body := "v1"
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, body) }))
	defer srv.Close()
	df := "FROM busybox\nADD " + srv.URL + "/f.txt /f.txt\n"
	r1 := mustBuild(t, b, df, Options{})
	r2 := mustBuild(t, b, df, Options{})
	if !strings.Contains(r2.out, "CACHED") || r2.res.ID != r1.res.ID {
		t.Errorf("unchanged URL not cached:\n%s", r2.out)
	}
	body = "v2"
	r3 := mustBuild(t, b, df, Options{})
	if strings.Contains(r3.out, "CACHED") {
		t.Errorf("changed URL content was cached:\n%s", r3.out)
	}
	root := imageTree(t, w, r3)
	if got, _ := os.ReadFile(filepath.Join(root, "f.txt")); string(got) != "v2" {
		t.Errorf("f.txt = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(root, "f.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ADD URL mode: %v %v", fi, err)
	}
}

// ADD of a plain (non-archive) file to a new path without a trailing slash
// writes a file of that name; it made the path a directory and put the file
// inside (found by the compat suite: `ADD hello.txt ./added.txt`).
func TestAddPlainFileToNewPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	b.Unpacker = copier.ArchiveUnpacker{}
	dir := writeCtx(t, map[string]string{"hello.txt": "hello"})
	df := "FROM busybox\nWORKDIR /srv\nADD hello.txt ./added.txt\nADD hello.txt /abs.txt\nADD hello.txt /into/\n"
	r := mustBuild(t, b, df, Options{Context: openCtx(t, dir)})
	root := imageTree(t, w, r)
	checkFile(t, root, "srv/added.txt", fileWant{"hello", 0o644, 0, 0})
	checkFile(t, root, "abs.txt", fileWant{"hello", 0o644, 0, 0})
	checkFile(t, root, "into/hello.txt", fileWant{"hello", 0o644, 0, 0})
}

// Hardlinked files of the context stay hardlinked in the image when one
// COPY copies them, as with docker (found by the compat suite).
func TestCopyKeepsHardlinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	dir := writeCtx(t, map[string]string{"hard/a": "hardlinked", "hard/c": "single"})
	if err := os.Link(filepath.Join(dir, "hard/a"), filepath.Join(dir, "hard/b")); err != nil {
		t.Fatal(err)
	}
	r := mustBuild(t, b, "FROM busybox\nCOPY hard /h/\n", Options{Context: openCtx(t, dir)})
	root := imageTree(t, w, r)
	var a, bb syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(root, "h/a"), &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Lstat(filepath.Join(root, "h/b"), &bb); err != nil {
		t.Fatal(err)
	}
	if a.Ino != bb.Ino || a.Nlink != 2 {
		t.Errorf("h/a and h/b: inodes %d %d, nlink %d: not one hardlinked file", a.Ino, bb.Ino, a.Nlink)
	}
	checkFile(t, root, "h/b", fileWant{"hardlinked", 0o644, 0, 0})
}

// COPY --parents keeps each source's path (below the context root, or below
// a "/./" pivot) under the destination; it flattened them (found by the
// compat suite).
func TestCopyParents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	w := newFakeWorld(t)
	busyboxLike(w)
	b := w.builder()
	dir := writeCtx(t, map[string]string{"a/b/x.txt": "x", "a/b/y.txt": "y", "a/c/d.txt": "d", "a/e/f/g.txt": "g"})
	df := "FROM busybox\nCOPY --parents a/b/*.txt a/c/d.txt /out/\nCOPY --parents ./a/./b/x.txt /pivot/\nCOPY --parents a/e /dirs/\n"
	r := mustBuild(t, b, df, Options{Context: openCtx(t, dir)})
	root := imageTree(t, w, r)
	checkFile(t, root, "out/a/b/x.txt", fileWant{"x", 0o644, 0, 0})
	checkFile(t, root, "out/a/b/y.txt", fileWant{"y", 0o644, 0, 0})
	checkFile(t, root, "out/a/c/d.txt", fileWant{"d", 0o644, 0, 0})
	checkFile(t, root, "pivot/b/x.txt", fileWant{"x", 0o644, 0, 0})
	checkFile(t, root, "dirs/a/e/f/g.txt", fileWant{"g", 0o644, 0, 0})
}
