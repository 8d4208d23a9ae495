package reference

import (
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func TestNormalise(t *testing.T) {
	cases := map[string]string{
		"ubuntu":                    "docker.io/library/ubuntu:latest",
		"ubuntu:22.04":              "docker.io/library/ubuntu:22.04",
		"me/app":                    "docker.io/me/app:latest",
		"127.0.0.1:5000/ns/repo:v1": "127.0.0.1:5000/ns/repo:v1",
		"localhost/x":               "localhost/x:latest",
	}
	for in, want := range cases {
		n, err := ParseTagged(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if n.String() != want {
			t.Errorf("%s → %s, want %s", in, n, want)
		}
	}
	n, _ := ParseTagged("busybox")
	if Familiar(n) != "busybox:latest" || FamiliarName(n) != "busybox" {
		t.Errorf("familiar %s / %s", Familiar(n), FamiliarName(n))
	}
}

func TestBadReferences(t *testing.T) {
	for _, in := range []string{"UPPER:tag", "a:b:c", "", "x@sha256:zz", "foo_bar.com/x", "0_0.0/0"} {
		if _, err := ParseNamed(in); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%q: want invalid argument, got %v", in, err)
		}
	}
	if _, err := ParseRepoTag("x@sha256:" + "0123456789012345678901234567890123456789012345678901234567890123"); err == nil {
		t.Errorf("digest accepted as tag target")
	}
}

func TestLooksLikeID(t *testing.T) {
	for s, want := range map[string]bool{"abc123": true, "sha256:ff": true, "busybox": false, "": false} {
		if LooksLikeID(s) != want {
			t.Errorf("LooksLikeID(%q) != %v", s, want)
		}
	}
}

func TestIsFullID(t *testing.T) {
	full := strings.Repeat("ab", 32)
	for s, want := range map[string]bool{full: true, "sha256:" + full: false, full[:63]: false, strings.ToUpper(full): false, full[:63] + "g": false} {
		if got := IsFullID(s); got != want {
			t.Errorf("IsFullID(%q) = %v, want %v", s, got, want)
		}
	}
}
