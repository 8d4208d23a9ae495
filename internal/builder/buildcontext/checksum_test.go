package buildcontext

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func sum(t *testing.T, c *Context, srcs []string, opts ChecksumOptions) digest.Digest {
	t.Helper()
	d, err := Checksum(context.Background(), c, srcs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// future makes every file look old enough to be persisted.
func future(sc *StatCache) *StatCache {
	sc.now = func() time.Time { return time.Now().Add(time.Hour) }
	return sc
}

func TestChecksumSensitivity(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"src/a": "alpha", "src/b/c": "gamma", "src/l": "->a", "other": "o"})
	c := open(t, dir, Options{})
	base := sum(t, c, []string{"src"}, ChecksumOptions{})
	if again := sum(t, c, []string{"src"}, ChecksumOptions{}); again != base {
		t.Fatalf("not deterministic: %s %s", base, again)
	}
	if base.Validate() != nil || base.Algorithm() != digest.SHA256 {
		t.Fatalf("bad digest %q", base)
	}
	p := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	check := func(what string, mutate, undo func(), wantChange bool) {
		t.Helper()
		mutate()
		got := sum(t, c, []string{"src"}, ChecksumOptions{})
		if (got != base) != wantChange {
			t.Errorf("%s: changed=%v, want %v", what, got != base, wantChange)
		}
		undo()
		if got := sum(t, c, []string{"src"}, ChecksumOptions{}); got != base {
			t.Fatalf("%s: undo did not restore the checksum", what)
		}
	}
	check("mtime", func() { os.Chtimes(p("src/a"), time.Unix(1, 0), time.Unix(1, 0)) }, func() {}, false)
	check("content", func() { os.WriteFile(p("src/a"), []byte("alphA"), 0o644) }, func() { os.WriteFile(p("src/a"), []byte("alpha"), 0o644) }, true)
	check("mode", func() { os.Chmod(p("src/a"), 0o755) }, func() { os.Chmod(p("src/a"), 0o644) }, true)
	check("dir mode", func() { os.Chmod(p("src/b"), 0o700) }, func() { os.Chmod(p("src/b"), 0o755) }, true)
	if os.Getuid() == 0 {
		// COPY gives context files to root or --chown: another checkout's
		// owner must not miss the cache (--cache-from on another machine).
		check("owner", func() { os.Lchown(p("src/a"), 1000, 1000) }, func() { os.Lchown(p("src/a"), 0, 0) }, false)
	}
	check("link target", func() { os.Remove(p("src/l")); os.Symlink("b", p("src/l")) }, func() { os.Remove(p("src/l")); os.Symlink("a", p("src/l")) }, true)
	check("rename", func() { os.Rename(p("src/b/c"), p("src/b/d")) }, func() { os.Rename(p("src/b/d"), p("src/b/c")) }, true)
	check("new file", func() { os.WriteFile(p("src/new"), nil, 0o644) }, func() { os.Remove(p("src/new")) }, true)
	check("outside the sources", func() { os.WriteFile(p("other"), []byte("changed"), 0o644) }, func() {}, false)

	// The source pattern is part of the key: the same files under another
	// name land elsewhere.
	if sum(t, c, []string{"./src"}, ChecksumOptions{}) == base {
		t.Errorf("source pattern not part of the checksum")
	}
	// --exclude changes what is selected.
	if sum(t, c, []string{"src"}, ChecksumOptions{Exclude: []string{"b"}}) == base {
		t.Errorf("--exclude ignored")
	}
}

func TestChecksumIgnoresExcludedFiles(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{".dockerignore": "*.log\n", "a": "a", "x.log": "1"})
	c := open(t, dir, Options{})
	before := sum(t, c, []string{"."}, ChecksumOptions{})
	os.WriteFile(filepath.Join(dir, "x.log"), []byte("2"), 0o644)
	if after := sum(t, c, []string{"."}, ChecksumOptions{}); after != before {
		t.Errorf("an ignored file changed the checksum")
	}
}

func TestStatCacheIncremental(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := 0; i < 50; i++ {
		files[filepath.Join("d", string(rune('a'+i%26)), string(rune('a'+i/26))+".txt")] = string(rune('a' + i))
	}
	tree(t, dir, files)
	c := open(t, dir, Options{})
	cachePath := filepath.Join(t.TempDir(), "sub", "statcache")

	sc := future(OpenStatCache(cachePath, dir))
	cold := sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
	if h, m := sc.Stats(); h != 0 || m != 50 {
		t.Fatalf("cold run: hits %d misses %d", h, m)
	}
	if err := sc.Save(); err != nil {
		t.Fatal(err)
	}

	sc = future(OpenStatCache(cachePath, dir))
	if warm := sum(t, c, []string{"."}, ChecksumOptions{Cache: sc}); warm != cold {
		t.Fatalf("warm checksum differs")
	}
	if h, m := sc.Stats(); h != 50 || m != 0 {
		t.Fatalf("warm run: hits %d misses %d", h, m)
	}

	// Same size, new content: mtime/ctime change, so the file is re-read.
	f := filepath.Join(dir, "d", "a", "a.txt")
	os.WriteFile(f, []byte("z"), 0o644)
	// Force a distinct mtime: the rewrite may fall in the same clock tick
	// as the creation (the racy case, which future() disables).
	os.Chtimes(f, time.Unix(12345, 0), time.Unix(12345, 0))
	sc = future(OpenStatCache(cachePath, dir))
	changed := sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
	if h, m := sc.Stats(); h != 49 || m != 1 {
		t.Fatalf("one changed file: hits %d misses %d", h, m)
	}
	if changed == cold {
		t.Fatalf("changed content, same checksum")
	}
	uncached := sum(t, c, []string{"."}, ChecksumOptions{})
	if uncached != changed {
		t.Fatalf("cached and uncached checksums differ")
	}
}

func TestStatCacheRacyFilesNotPersisted(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"fresh": "x"})
	c := open(t, dir, Options{})
	cachePath := filepath.Join(t.TempDir(), "statcache")
	sc := OpenStatCache(cachePath, dir) // real clock: the file was just written
	sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
	// Within the session the entry is reused...
	sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
	if h, _ := sc.Stats(); h != 1 {
		t.Fatalf("in-session hits %d", h)
	}
	if err := sc.Save(); err != nil {
		t.Fatal(err)
	}
	// ...but not trusted by the next process.
	sc = OpenStatCache(cachePath, dir)
	sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
	if h, m := sc.Stats(); h != 0 || m != 1 {
		t.Fatalf("racy entry was persisted: hits %d misses %d", h, m)
	}
}

func TestStatCacheCorruptFileIsIgnored(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"a": "a"})
	c := open(t, dir, Options{})
	cachePath := filepath.Join(t.TempDir(), "statcache")
	for _, junk := range []string{"garbage", statCacheMagic + "\xff\xff\xff", statCacheMagic + "\x05ab"} {
		os.WriteFile(cachePath, []byte(junk), 0o600)
		sc := future(OpenStatCache(cachePath, dir))
		sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
		if err := sc.Save(); err != nil {
			t.Fatal(err)
		}
		sc = future(OpenStatCache(cachePath, dir))
		sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
		if h, _ := sc.Stats(); h != 1 {
			t.Fatalf("cache not rebuilt after %q", junk)
		}
	}
}

func TestChecksumCancelled(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"a/b": "x"})
	c := open(t, dir, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Checksum(ctx, c, []string{"."}, ChecksumOptions{}); err == nil {
		t.Fatal("cancelled checksum succeeded")
	}
}

func TestStatCacheSeesNewAndRemovedFiles(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"a/x": "x", "a/y": "y", "b/z": "z"})
	old := time.Unix(1000, 0)
	for _, p := range []string{"a/x", "a/y", "b/z", "a", "b", "."} {
		os.Chtimes(filepath.Join(dir, p), old, old)
	}
	c := open(t, dir, Options{})
	cachePath := filepath.Join(t.TempDir(), "statcache")
	run := func() digest.Digest {
		sc := future(OpenStatCache(cachePath, dir))
		d := sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
		if err := sc.Save(); err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := run()
	if run() != base {
		t.Fatal("warm run differs")
	}
	// A new file changes the directory's mtime: the cached listing is
	// not used.
	os.WriteFile(filepath.Join(dir, "a", "new"), []byte("n"), 0o644)
	if run() == base {
		t.Fatal("new file not seen with a warm cache")
	}
	if got, want := run(), sum(t, c, []string{"."}, ChecksumOptions{}); got != want {
		t.Fatal("warm and uncached checksums differ after adding a file")
	}
	os.Remove(filepath.Join(dir, "a", "new"))
	if run() != base {
		t.Fatal("removed file still seen with a warm cache")
	}
	// A cache written for another directory is not used.
	other := t.TempDir()
	sc := future(OpenStatCache(cachePath, other))
	if len(sc.files) != 0 || len(sc.dirs) != 0 {
		t.Fatal("cache of another directory loaded")
	}
}

func TestCacheFileName(t *testing.T) {
	a, b := CacheFileName("/src/a"), CacheFileName("/src/b")
	if a == b || a != CacheFileName("/src/a/") || len(a) != len("statcache-")+24 {
		t.Errorf("names %q %q", a, b)
	}
}

func TestStatCacheTruncatedFiles(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"a/b": "b", "c": "c"})
	c := open(t, dir, Options{})
	cachePath := filepath.Join(t.TempDir(), "statcache")
	sc := future(OpenStatCache(cachePath, dir))
	sum(t, c, []string{"."}, ChecksumOptions{Cache: sc})
	if err := sc.Save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n++ {
		os.WriteFile(cachePath, data[:n], 0o600)
		sc := OpenStatCache(cachePath, dir) // must not panic
		if len(sc.files) > 2 {
			t.Fatalf("truncated at %d: %d entries", n, len(sc.files))
		}
	}
}
