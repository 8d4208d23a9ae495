package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// fuzzTar turns a small script into a tar. Each line is "T|name|link":
// T is f (file, content = link field), d (dir), l (symlink), h (hardlink),
// c (char device 1:3), p (fifo), w (whiteout file named name). "@OUT@" in
// a name or link is replaced by the absolute path of the directory that
// must stay untouched, "@BASE@" by its parent.
func fuzzTar(script []byte, s *sandbox) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	lines := strings.Split(string(script), "\n")
	if len(lines) > 32 {
		lines = lines[:32]
	}
	for _, line := range lines {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) < 2 || parts[0] == "" {
			continue
		}
		sub := func(v string) string {
			v = strings.ReplaceAll(v, "@OUT@", s.outside)
			return strings.ReplaceAll(v, "@BASE@", s.base)
		}
		name := sub(parts[1])
		link := ""
		if len(parts) == 3 {
			link = sub(parts[2])
		}
		if len(name) > 1024 || len(link) > 1024 {
			continue
		}
		h := &tar.Header{Name: name, Mode: 0o755, Format: tar.FormatPAX}
		body := ""
		switch parts[0][0] {
		case 'f', 'w':
			h.Typeflag = tar.TypeReg
			body = link
			h.Size = int64(len(body))
		case 'd':
			h.Typeflag = tar.TypeDir
		case 'l':
			h.Typeflag, h.Linkname = tar.TypeSymlink, link
		case 'h':
			h.Typeflag, h.Linkname = tar.TypeLink, link
		case 'c':
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, 1, 3
		case 'p':
			h.Typeflag = tar.TypeFifo
		default:
			continue
		}
		if tw.WriteHeader(h) != nil {
			return buf.Bytes() // truncated tar: Apply must still be safe
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

var fuzzSeeds = []string{
	"f|../escape|x",
	"f|/../escape|x\nf|a/../../escape|y",
	"l|a|@OUT@\nf|a/sentinel|pwned\nf|a/new|pwned",
	"l|a|@OUT@\nd|a/dir\nf|a/dir/file|pwned",
	"d|@OUT@\nl|a|@OUT@\nf|a/sentinel|pwned\nw|a/.wh.dir",
	"l|a|../../../../../..@BASE@\nf|a/outside/sentinel|pwned\nf|a/escape|x",
	"l|b|@OUT@\nl|a|b\nf|a/sentinel|pwned",
	"l|a|@OUT@/sentinel\nf|a|overwrite",
	"l|a|@OUT@/sentinel\nh|h|a\nf|h|overwrite",
	"h|h|../outside/sentinel",
	"h|h|@OUT@/sentinel",
	"l|a|@OUT@\nh|h|a/sentinel",
	"l|a|@OUT@\nw|a/.wh.sentinel\nw|a/.wh..wh..opq",
	"d|x\nl|x/y|..\nl|x/y/z|..\nf|x/y/z/escape|x",
	"l|a|.\nl|a/b|..\nf|a/b/escape|x",
	"f|f|x\nf|f/x|y",
	"c|dev/null\np|fifo\nw|.wh.\nw|x/.wh..\nw|x/.wh...",
	"d|@OUT@/dir\nl|@OUT@/dir/l|@OUT@\nf|@OUT@/dir/l/sentinel|pwned",
	"l|a|/proc/self/root@OUT@\nf|a/sentinel|pwned",
	"l|a|/proc/self/cwd\nf|a/escape|pwned",
}

func FuzzApply(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, overlay := range []bool{false, true} {
			s := newSandbox(t)
			data := fuzzTar(script, s)
			_, _ = Apply(context.Background(), s.root, bytes.NewReader(data), ApplyOptions{Overlay: overlay, NoSameOwner: os.Geteuid() != 0})
			s.check(t)
		}
	})
}

// FuzzApplyRaw feeds Apply arbitrary bytes (seeded with the tars of
// fuzzSeeds, escapes written relative to the layer root, and a few header
// kinds the script cannot make: long PAX names, xattrs, GNU sparse): no
// input panics, and nothing outside the layer directory changes, whether
// whiteouts are applied or kept as overlay whiteouts.
func FuzzApplyRaw(f *testing.F) {
	rel := &sandbox{outside: "../outside", base: ".."}
	for _, s := range fuzzSeeds {
		f.Add(fuzzTar([]byte(s), rel))
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "d/e/f", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644,
		PAXRecords: map[string]string{"SCHILY.xattr.user.x": "v", "SCHILY.xattr.trusted.overlay.opaque": "y"}})
	tw.Write([]byte("x"))
	tw.Close()
	f.Add(b.Bytes())
	b.Reset()
	tw = tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "sparse", Typeflag: tar.TypeGNUSparse, Size: 0, Mode: 0o644, Format: tar.FormatGNU})
	tw.Close()
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		fds := func() map[string]string {
			m := map[string]string{}
			ents, _ := os.ReadDir("/proc/self/fd")
			for _, e := range ents {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				m[e.Name()] = l
			}
			return m
		}
		before := fds()
		defer func() {
			after := fds()
			for k, v := range before {
				if after[k] != v && !strings.HasPrefix(v, "/proc") {
					t.Fatalf("fd %s was %s, now %q", k, v, after[k])
				}
			}
		}()
		for _, overlay := range []bool{false, true} {
			s := newSandbox(t)
			_, _ = Apply(context.Background(), s.root, bytes.NewReader(data), ApplyOptions{Overlay: overlay, NoSameOwner: os.Geteuid() != 0, MaxBytes: 1 << 20})
			s.check(t)
		}
	})
}
