package spec

import (
	"runtime"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccompDefault: docker's default profile, for the native ABI and
// its 32-bit one, x32 only where the kernel runs it; no filter for
// unconfined and privileged; a profile that is not JSON refused.
func TestSeccompDefault(t *testing.T) {
	p, err := Seccomp("", DefaultCapabilities(), false)
	if err != nil || p == nil || p.DefaultAction != specs.ActErrno || len(p.Syscalls) == 0 {
		t.Fatalf("default profile: %v %+v", err, p)
	}
	if runtime.GOARCH == "amd64" {
		if !slices.Contains(p.Architectures, specs.ArchX86_64) || !slices.Contains(p.Architectures, specs.ArchX86) {
			t.Errorf("architectures %v", p.Architectures)
		}
		if got := slices.Contains(p.Architectures, specs.ArchX32); got != x32Supported() {
			t.Errorf("x32 in the profile: %v, kernel runs x32: %v", got, x32Supported())
		}
	}
	for _, c := range []struct {
		profile    string
		privileged bool
	}{{SeccompUnconfined, false}, {"", true}, {SeccompDefault, true}} {
		if p, err := Seccomp(c.profile, DefaultCapabilities(), c.privileged); err != nil || p != nil {
			t.Errorf("%q privileged=%v: %v %+v, want no filter", c.profile, c.privileged, err, p)
		}
	}
	if _, err := Seccomp("{not json", DefaultCapabilities(), false); err == nil {
		t.Error("a broken profile was accepted")
	}
}
