package buildcontext

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// tree creates files under dir: "path" -> content; a content starting with
// "->" makes a symlink; a path ending in "/" makes a directory.
func tree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func open(t testing.TB, dir string, opts Options) *Context {
	t.Helper()
	c, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func walkAll(t *testing.T, c *Context, rel string) []string {
	t.Helper()
	var got []string
	err := c.Walk(context.Background(), rel, func(rel string, info fs.FileInfo) error {
		s := rel
		if info.IsDir() {
			s += "/"
		} else if info.Mode()&fs.ModeSymlink != 0 {
			s += "@"
		}
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestDockerignoreRules(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		".dockerignore":    "# comment\n\n  *.log  \n/build\n./tmp/\n**/*.bak\nvendor\n!vendor/keep.txt\ndocs/**\n!docs/**/*.md\n",
		"Dockerfile":       "FROM x\n",
		"main.go":          "package main",
		"app.log":          "log",
		"sub/app.log":      "nested logs are not matched by *.log",
		"build/out":        "x",
		"tmp/t":            "x",
		"a/b/c.bak":        "x",
		"c.bak":            "x",
		"vendor/x.go":      "x",
		"vendor/keep.txt":  "keep",
		"docs/a/readme.md": "md",
		"docs/a/img.png":   "png",
	})
	c := open(t, dir, Options{})
	if c.IgnoreFile() != filepath.Join(dir, ".dockerignore") {
		t.Errorf("ignore file %q", c.IgnoreFile())
	}
	want := []string{".", ".dockerignore", "Dockerfile", "a/", "a/b/", "docs/", "docs/a/", "docs/a/readme.md",
		"main.go", "sub/", "sub/app.log", "vendor/", "vendor/keep.txt"}
	want[0] = "./"
	if got := walkAll(t, c, "."); !reflect.DeepEqual(got, want) {
		t.Errorf("walk:\n got  %v\n want %v", got, want)
	}
	for p, ex := range map[string]bool{"app.log": true, "build/out": true, "tmp": true, "a/b/c.bak": true,
		"vendor/x.go": true, "vendor/keep.txt": false, "main.go": false, "/build": true, "./app.log": true} {
		got, err := c.Excluded(p)
		if err != nil || got != ex {
			t.Errorf("Excluded(%s) = %v %v, want %v", p, got, err, ex)
		}
	}
	if _, err := c.Open("app.log"); !errdefs.IsNotFound(err) {
		t.Errorf("open of an excluded file: %v", err)
	}
	if _, err := c.Lstat("build/out"); !errdefs.IsNotFound(err) {
		t.Errorf("lstat of an excluded file: %v", err)
	}
	f, err := c.Open("vendor/keep.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestBuildFilesExcludedWhenListed(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{".dockerignore": "Dockerfile\n.dockerignore\n", "Dockerfile": "FROM x", "a": "a"})
	c := open(t, dir, Options{Dockerfile: filepath.Join(dir, "Dockerfile")})
	if got, want := walkAll(t, c, "."), []string{"./", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("walk %v, want %v", got, want)
	}
}

func TestNamedDockerignoreWins(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		".dockerignore":                      "a\n",
		"docker/app.Dockerfile":              "FROM x",
		"docker/app.Dockerfile.dockerignore": "b\n",
		"a":                                  "a", "b": "b",
	})
	c := open(t, dir, Options{Dockerfile: filepath.Join(dir, "docker/app.Dockerfile")})
	if !strings.HasSuffix(c.IgnoreFile(), "app.Dockerfile.dockerignore") {
		t.Fatalf("ignore file %q", c.IgnoreFile())
	}
	if ex, _ := c.Excluded("a"); ex {
		t.Errorf("a excluded: the root .dockerignore was used")
	}
	if ex, _ := c.Excluded("b"); !ex {
		t.Errorf("b not excluded")
	}
	// Without a named file next to it, the root .dockerignore applies.
	c2 := open(t, dir, Options{Dockerfile: filepath.Join(dir, "Dockerfile")})
	if ex, _ := c2.Excluded("a"); !ex {
		t.Errorf("a not excluded by the root .dockerignore")
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(filepath.Join(t.TempDir(), "nope"), Options{}); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "unable to prepare context: path") {
		t.Errorf("missing dir: %v", err)
	}
	dir := t.TempDir()
	tree(t, dir, map[string]string{"f": "x", ".dockerignore": "[\n"})
	if _, err := New(filepath.Join(dir, "f"), Options{}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("file as context: %v", err)
	}
	if _, err := New(dir, Options{}); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), ".dockerignore") {
		t.Errorf("bad pattern: %v", err)
	}
}

func TestSymlinksAreNotFollowedOut(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		"shadow":     "->/etc/shadow",
		"up":         "->../outside",
		"in":         "->real/file",
		"real/file":  "content",
		"dirlink":    "->real",
		"abs-in-ctx": "->" + filepath.Join(dir, "real/file"),
	})
	c := open(t, dir, Options{})
	got := walkAll(t, c, ".")
	want := []string{"./", "abs-in-ctx@", "dirlink@", "in@", "real/", "real/file", "shadow@", "up@"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("walk %v, want %v", got, want)
	}
	if _, err := c.Open("shadow"); err == nil {
		t.Errorf("Open followed a link to /etc/shadow")
	}
	if _, err := c.Open("up"); err == nil {
		t.Errorf("Open followed a link out of the context")
	}
	f, err := c.Open("in")
	if err != nil {
		t.Fatalf("open through an inside link: %v", err)
	}
	f.Close()
	if target, err := c.Readlink("shadow"); err != nil || target != "/etc/shadow" {
		t.Errorf("readlink %q %v", target, err)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		".dockerignore": "secret.txt\nignored/\n",
		"a.go":          "a", "b.go": "b", "c.txt": "c",
		"src/x.go": "x", "src/y/z.go": "z",
		"secret.txt": "s",
		"ignored/f":  "f",
		"shadow":     "->/etc/shadow",
		"up":         "->../../x",
		"link":       "->src",
		"abs":        "->" + filepath.Join(dir, "src"),
	})
	c := open(t, dir, Options{})
	ctx := context.Background()
	rels := func(srcs []Source) []string {
		var out []string
		for _, s := range srcs {
			out = append(out, s.Rel)
		}
		return out
	}
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"a.go"}, []string{"a.go"}},
		{[]string{"/a.go", "./b.go"}, []string{"a.go", "b.go"}},
		{[]string{"*.go"}, []string{"a.go", "b.go"}},
		{[]string{"src/*.go"}, []string{"src/x.go"}},
		{[]string{"*/*.go"}, []string{"src/x.go"}},
		{[]string{"[ab].go", "c.tx?"}, []string{"a.go", "b.go", "c.txt"}},
		{[]string{"."}, []string{"."}},
		{[]string{"src/../a.go"}, []string{"a.go"}},
		{[]string{"link/x.go"}, []string{"src/x.go"}},
		{[]string{"link"}, []string{"src"}},
		{[]string{"abs/y"}, []string{"src/y"}},
	} {
		got, err := c.Resolve(ctx, "COPY", tc.in)
		if err != nil {
			t.Errorf("%v: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(rels(got), tc.want) {
			t.Errorf("%v: got %v want %v", tc.in, rels(got), tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want string
		is   func(error) bool
	}{
		{"../x", "COPY failed: forbidden path outside the build context: ../x", errdefs.IsInvalidArgument},
		{"src/../../x", "COPY failed: forbidden path outside the build context: src/../../x", errdefs.IsInvalidArgument},
		{"shadow", "COPY failed: forbidden path outside the build context: shadow -> /etc/shadow", errdefs.IsInvalidArgument},
		{"up", "COPY failed: forbidden path outside the build context: up -> ../../x", errdefs.IsInvalidArgument},
		{"missing", "COPY failed: file not found in build context or excluded by .dockerignore: stat missing: file does not exist", errdefs.IsNotFound},
		{"secret.txt", "COPY failed: file not found in build context or excluded by .dockerignore: stat secret.txt: file does not exist", errdefs.IsNotFound},
		{"ignored/f", "COPY failed: file not found in build context or excluded by .dockerignore: stat ignored/f: file does not exist", errdefs.IsNotFound},
		{"*.none", `COPY failed: no source files were specified (nothing matches "*.none")`, errdefs.IsNotFound},
		{"a.go/x", "COPY failed: file not found in build context or excluded by .dockerignore: stat a.go/x: file does not exist", errdefs.IsNotFound},
	} {
		_, err := c.Resolve(ctx, "COPY", []string{tc.in})
		if err == nil || err.Error() != tc.want || !tc.is(err) {
			t.Errorf("%s:\n got  %v\n want %s", tc.in, err, tc.want)
		}
	}
	if _, err := c.Resolve(ctx, "ADD", []string{"../y"}); err == nil || !strings.HasPrefix(err.Error(), "ADD failed: ") {
		t.Errorf("ADD message: %v", err)
	}
}

func TestSelectWithExclude(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		"app/main.go": "m", "app/README.md": "r", "app/docs/x.md": "x", "app/docs/keep.txt": "k", "app/tmp/": "",
	})
	c := open(t, dir, Options{})
	sel, err := c.Select(context.Background(), "COPY", []string{"app"}, SelectOptions{Exclude: []string{"*.md", "docs/*.md", "tmp"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range sel.Entries {
		got = append(got, e.Path)
	}
	want := []string{".", "docs", "docs/keep.txt", "main.go"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{".dockerignore": "*.log\n!keep.log\nd/**/x*\n", "a.log": "", "keep.log": "", "d/e/x1": "", "d/e/y": ""})
	c := open(t, dir, Options{})
	done := make(chan error)
	for i := 0; i < 4; i++ {
		go func() {
			for j := 0; j < 20; j++ {
				if _, err := c.Excluded("d/e/x1"); err != nil {
					done <- err
					return
				}
				if _, err := Checksum(context.Background(), c, []string{"."}, ChecksumOptions{}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got, want := walkAll(t, c, "."), []string{"./", ".dockerignore", "d/", "d/e/", "d/e/y", "keep.log"}; !reflect.DeepEqual(got, want) {
		t.Errorf("walk %v, want %v", got, want)
	}
}

func TestReadDockerfileIgnoresExcludes(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{".dockerignore": "Dockerfile\nsub\n", "Dockerfile": "FROM a\n", "sub/Dockerfile.dev": "FROM b\n", "evil": "->/etc/passwd"})
	c := open(t, dir, Options{})
	if data, err := c.ReadDockerfile("Dockerfile"); err != nil || string(data) != "FROM a\n" {
		t.Errorf("Dockerfile: %q %v", data, err)
	}
	if data, err := c.ReadDockerfile("sub/Dockerfile.dev"); err != nil || string(data) != "FROM b\n" {
		t.Errorf("sub/Dockerfile.dev: %q %v", data, err)
	}
	if _, err := c.ReadDockerfile("missing"); !errdefs.IsNotFound(err) {
		t.Errorf("missing: %v", err)
	}
	if _, err := c.ReadDockerfile("evil"); err == nil {
		t.Errorf("read through a link to /etc/passwd")
	}
	if _, err := c.ReadDockerfile("../x"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("../x: %v", err)
	}
	// COPY still cannot see it.
	if _, err := c.Resolve(context.Background(), "COPY", []string{"Dockerfile"}); !errdefs.IsNotFound(err) {
		t.Errorf("COPY of an ignored Dockerfile: %v", err)
	}
}
