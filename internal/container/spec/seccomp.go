package spec

import (
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/rootless"
)

// Seccomp returns the seccomp filter of a process whose capability
// bounding set is caps, for the --security-opt seccomp value profile, with
// docker's rules:
//   - "" or "builtin": docker's default profile (github.com/moby/profiles,
//     the one dockerd uses), adjusted to caps as dockerd does (a process
//     with CAP_SYS_ADMIN may mount and unshare, one with CAP_SYS_PTRACE may
//     ptrace, ...);
//   - "unconfined", and every --privileged process: no filter;
//   - anything else: a profile in docker's JSON format.
//
// Where the kernel has no seccomp, the default is skipped (docker warns
// and does the same) and a custom profile is an error.
func Seccomp(profile string, caps []string, privileged bool) (*specs.LinuxSeccomp, error) {
	if profile == SeccompUnconfined || privileged {
		return nil, nil
	}
	if !SeccompSupported() {
		if profile == "" || profile == SeccompDefault {
			return nil, nil
		}
		return nil, errdefs.FailedPreconditionf("seccomp is not enabled in your kernel, cannot run a custom seccomp profile")
	}
	if profile == "" || profile == SeccompDefault {
		p, err := seccomp.GetDefaultProfile(capSpec(caps))
		if err != nil {
			return nil, err
		}
		p.Architectures = withoutMissingABIs(p.Architectures)
		return p, nil
	}
	p, err := loadProfile(profile, caps)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("seccomp profile: %v", err)
	}
	return p, nil
}

// loadProfile converts a JSON profile in docker's format for a process
// with capability bounding set caps.
func loadProfile(body string, caps []string) (*specs.LinuxSeccomp, error) {
	return seccomp.LoadProfile(body, capSpec(caps))
}

// capSpec is the part of a spec the profile's conditions read.
func capSpec(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
}

// withoutMissingABIs drops from the default profile's architectures the
// x32 ABI when the kernel has none (most distribution kernels leave it
// off): filtering an ABI whose system calls the kernel cannot make changes
// nothing (such a call reaches the filter as an unknown x86_64 call and is
// denied), and the runtime's libseccomp compiles a filter with three ABIs
// several times slower than with two (about 20 ms more per container start
// with runc here).
func withoutMissingABIs(arches []specs.Arch) []specs.Arch {
	if x32Supported() {
		return arches
	}
	return slices.DeleteFunc(slices.Clone(arches), func(a specs.Arch) bool { return a == specs.ArchX32 })
}

var seccompSupported = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/status")
	return err == nil && strings.Contains(string(b), "\nSeccomp:")
})

// SeccompSupported reports whether the kernel can filter system calls.
func SeccompSupported() bool { return seccompSupported() }

// AppArmorEnabled reports whether the kernel enforces AppArmor profiles.
func AppArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// SecurityOptions are the host's confinements in docker info's form
// ("name=seccomp,profile=builtin", "name=apparmor").
func SecurityOptions() []string {
	var out []string
	if AppArmorEnabled() {
		out = append(out, "name=apparmor")
	}
	if SeccompSupported() {
		out = append(out, "name=seccomp,profile="+SeccompDefault)
	}
	if rootless.Running() {
		out = append(out, "name=rootless") // as dockerd's rootless mode
	}
	return out
}

// Confine applies the parsed --security-opt values sec to the spec s
// (whose capabilities are final): no-new-privileges, the seccomp filter,
// systempaths=unconfined and an AppArmor profile where the host enforces
// AppArmor. It is the one place where run, exec's container and build
// steps get their confinement.
func Confine(s *specs.Spec, sec SecurityOpts, privileged bool) error {
	s.Process.NoNewPrivileges = sec.NoNewPrivileges
	var caps []string
	if s.Process.Capabilities != nil {
		caps = s.Process.Capabilities.Bounding
	}
	f, err := Seccomp(sec.Seccomp, caps, privileged)
	if err != nil {
		return err
	}
	s.Linux.Seccomp = f
	if sec.SystemPaths == "unconfined" || privileged {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}
	profile, err := appArmorProfile(sec, privileged)
	if err != nil {
		return err
	}
	s.Process.ApparmorProfile = profile
	return nil
}
