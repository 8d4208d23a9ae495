package images

import (
	"testing"

	dref "github.com/distribution/reference"
)

func TestSplitName(t *testing.T) {
	for _, n := range []string{"docker.io/library/busybox:latest", "docker.io/user/app:v1", "example.com:5000/a/b:c",
		"docker.io/library/busybox@sha256:0123456789012345678901234567890123456789012345678901234567890123", "localhost/x:1", "docker.io/library/a/b:1"} {
		p, err := dref.ParseNormalizedNamed(n)
		if err != nil {
			t.Fatal(err)
		}
		repo, rest := SplitName(n)
		wantRest := ""
		if tg, ok := p.(dref.Tagged); ok {
			wantRest = tg.Tag()
		} else if d, ok := p.(dref.Digested); ok {
			wantRest = d.Digest().String()
		}
		if repo != dref.FamiliarName(p) || rest != wantRest {
			t.Errorf("SplitName(%q) = %q %q, want %q %q", n, repo, rest, dref.FamiliarName(p), wantRest)
		}
	}
}
