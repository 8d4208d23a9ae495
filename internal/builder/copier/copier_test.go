package copier

import "testing"

func TestParentsDest(t *testing.T) {
	for _, c := range []struct {
		pattern, rel string
		dir          bool
		want         string
	}{
		{"a/b/*.txt", "a/b/x.txt", false, "/out/a/b/"},
		{"./a/./b/x.txt", "a/b/x.txt", false, "/out/b/"},
		{"a/./b", "a/b", true, "/out/b/"},
		{"x.txt", "x.txt", false, "/out/"},
		{"a/b/./", "a/b", true, "/out/"},
	} {
		if got := ParentsDest("/out/", c.pattern, c.rel, c.dir); got != c.want {
			t.Errorf("ParentsDest(%q, %q) = %q, want %q", c.pattern, c.rel, got, c.want)
		}
	}
}
