package client

import (
	"encoding/json"
	"runtime"
	"sort"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultPlatform is the platform of this machine (linux/<GOARCH>, with the
// usual variant for arm).
func DefaultPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// ParsePlatform parses os/arch[/variant] ("linux/arm64/v8"); "" is
// DefaultPlatform.
func ParsePlatform(s string) (ocispec.Platform, error) {
	if s == "" {
		return DefaultPlatform(), nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, errdefs.InvalidArgumentf("invalid platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: normArch(parts[1])}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func normArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "i386", "i686":
		return "386"
	case "armhf":
		return "arm"
	}
	return a
}

// normVariant gives the variant implied when none is written.
func normVariant(arch, v string) string {
	switch {
	case arch == "arm64" && v == "":
		return "v8"
	case arch == "arm" && v == "":
		return "v7"
	case arch == "amd64" && v == "":
		return "v1"
	}
	return v
}

// PlatformMatches reports whether an image of platform have runs as want:
// the same OS and architecture, and the same variant (the implied one when
// none is written) unless want names none.
func PlatformMatches(have, want ocispec.Platform) bool {
	if have.OS != want.OS || normArch(have.Architecture) != normArch(want.Architecture) {
		return false
	}
	return want.Variant == "" || normVariant(have.Architecture, have.Variant) == normVariant(want.Architecture, want.Variant)
}

// FormatPlatform renders os/arch[/variant].
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// SelectManifest picks the manifest for want from an index (OCI index or
// Docker manifest list). An exact variant match wins; without a requested
// variant any variant of the architecture matches, the default one first.
// When nothing matches the error lists the platforms the index has.
func SelectManifest(index []byte, want ocispec.Platform) (ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(index, &idx); err != nil {
		return ocispec.Descriptor{}, errdefs.InvalidArgumentf("invalid image index: %v", err)
	}
	type cand struct {
		d    ocispec.Descriptor
		rank int
		pos  int
	}
	var cands []cand
	var avail []string
	wantVar := normVariant(want.Architecture, want.Variant)
	for i, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		p := *d.Platform
		if p.OS == "unknown" || p.Architecture == "unknown" { // attestations
			continue
		}
		avail = append(avail, FormatPlatform(p))
		if !PlatformMatches(p, want) {
			continue
		}
		rank := 1 // another variant, none asked for
		if normVariant(p.Architecture, p.Variant) == wantVar {
			rank = 0
		}
		cands = append(cands, cand{d, rank, i})
	}
	if len(cands) == 0 {
		sort.Strings(avail)
		list := "none"
		if len(avail) > 0 {
			list = strings.Join(dedupe(avail), ", ")
		}
		return ocispec.Descriptor{}, errdefs.NotFoundf("no matching manifest for %s in the manifest list entries (available: %s)", FormatPlatform(want), list)
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].rank < cands[j].rank })
	return cands[0].d, nil
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
