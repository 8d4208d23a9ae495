package reference

import (
	"strings"
	"testing"

	dref "github.com/distribution/reference"
)

// FuzzParseNamed: no input makes the parsers panic, and what parses
// round-trips: the canonical string and the familiar form parse back to
// the same reference, a tag target carries a tag and no digest.
//
// One exception, docker's too (distribution/reference): a Docker Hub name
// whose first path component looks like a host ("docker.io/a.b/c") has
// the familiar form "a.b/c", which names host a.b. Hub namespaces cannot
// hold '.', ':' or be "localhost", so no real image is affected
// (testdata/fuzz/FuzzParseNamed keeps the input that found it).
func FuzzParseNamed(f *testing.F) {
	for _, s := range []string{
		"busybox", "ubuntu:22.04", "docker.io/library/ubuntu:latest", "localhost:5000/a/b:c",
		"127.0.0.1:5000/x@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"a/b:c@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"[::1]:5000/x:y", "UPPER", "a..b", "-x", "x:", ":x", "@sha256:", "sha256:abc", "a/b/c/d/e:" + "t",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "library/library", "docker.io/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if IsFullID(s) && !LooksLikeID(s) {
			t.Fatalf("IsFullID(%q) but not LooksLikeID", s)
		}
		n, err := ParseNamed(s)
		if err != nil {
			if _, err := ParseTagged(s); err == nil {
				t.Fatalf("ParseTagged(%q) accepts what ParseNamed refuses", s)
			}
			if _, err := ParseRepoTag(s); err == nil {
				t.Fatalf("ParseRepoTag(%q) accepts what ParseNamed refuses", s)
			}
			return
		}
		forms := []string{n.String()}
		if first, _, _ := strings.Cut(Familiar(n), "/"); Domain(n) != "docker.io" || !strings.ContainsAny(first, ".:") && first != "localhost" {
			forms = append(forms, Familiar(n))
		}
		for _, again := range forms {
			m, err := ParseNamed(again)
			if err != nil {
				t.Fatalf("ParseNamed(%q) = %q, which does not parse again: %v", s, again, err)
			}
			if m.String() != n.String() {
				t.Fatalf("ParseNamed(%q) = %q, but %q parses to %q", s, n, again, m)
			}
		}
		if Domain(n) == "" || Path(n) == "" || FamiliarName(n) == "" {
			t.Fatalf("ParseNamed(%q) = %q without domain or path", s, n)
		}
		if d := Digest(n); d != "" && d.Validate() != nil {
			t.Fatalf("ParseNamed(%q) has an invalid digest %q", s, d)
		}
		tagged, err := ParseTagged(s)
		if err != nil {
			t.Fatalf("ParseTagged(%q): %v", s, err)
		}
		if Tag(tagged) == "" && Digest(tagged) == "" {
			t.Fatalf("ParseTagged(%q) = %q has neither tag nor digest", s, tagged)
		}
		rt, err := ParseRepoTag(s)
		if _, digested := n.(dref.Digested); digested != (err != nil) {
			t.Fatalf("ParseRepoTag(%q) error %v, digested %v", s, err, digested)
		}
		if err == nil && rt.Tag() == "" {
			t.Fatalf("ParseRepoTag(%q) = %q without a tag", s, rt)
		}
	})
}
