// Package reference parses and normalises image references the way docker
// does (`ubuntu` → `docker.io/library/ubuntu:latest`), on top of
// github.com/distribution/reference.
package reference

import (
	"fmt"
	"strings"

	dref "github.com/distribution/reference"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// Named is a normalised reference with a name and maybe a tag and/or digest.
type Named = dref.Named

// ParseNamed parses s as docker does, normalising the name. Errors are
// errdefs.ErrInvalidArgument and name the offending input.
func ParseNamed(s string) (Named, error) {
	n, err := dref.ParseNormalizedNamed(s)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("invalid reference format %q: %v", s, err)
	}
	if dref.Domain(n) == "" {
		// A first component that reads as a host (it has a '.' or a ':')
		// but is not a valid one ("foo_bar.com/x"): the parser keeps it
		// as a path with no registry at all.
		host, _, _ := strings.Cut(s, "/")
		return nil, errdefs.InvalidArgumentf("invalid reference format %q: %q is not a valid registry host", s, host)
	}
	return n, nil
}

// ParseTagged parses s and adds the tag "latest" when s has neither tag nor digest.
func ParseTagged(s string) (Named, error) {
	n, err := ParseNamed(s)
	if err != nil {
		return nil, err
	}
	return dref.TagNameOnly(n), nil
}

// ParseRepoTag parses the target of a tag, import or commit: it must not carry
// a digest, and gets "latest" when it has no tag.
func ParseRepoTag(s string) (dref.NamedTagged, error) {
	n, err := ParseTagged(s)
	if err != nil {
		return nil, err
	}
	if _, ok := n.(dref.Digested); ok {
		return nil, errdefs.InvalidArgumentf("invalid reference format %q: a tag target cannot contain a digest", s)
	}
	nt, ok := n.(dref.NamedTagged)
	if !ok {
		return nil, errdefs.InvalidArgumentf("invalid reference format %q", s)
	}
	return nt, nil
}

// Familiar is the short form users type: docker.io/library/busybox:latest → busybox:latest.
func Familiar(n dref.Reference) string {
	if named, ok := n.(Named); ok {
		return dref.FamiliarString(named)
	}
	return n.String()
}

// FamiliarName is the repository part in short form: docker.io/library/busybox → busybox.
func FamiliarName(n Named) string { return dref.FamiliarName(n) }

// Tag returns the tag of n, or "" when it has none.
func Tag(n Named) string {
	if t, ok := n.(dref.Tagged); ok {
		return t.Tag()
	}
	return ""
}

// Digest returns the digest of n, or "" when it has none.
func Digest(n Named) digest.Digest {
	if d, ok := n.(dref.Digested); ok {
		return d.Digest()
	}
	return ""
}

// Domain is the registry host of n (docker.io for Docker Hub names).
func Domain(n Named) string { return dref.Domain(n) }

// Path is the repository path of n within its registry (library/busybox).
func Path(n Named) string { return dref.Path(n) }

// WithTag returns n with its tag replaced (the digest is dropped).
func WithTag(n Named, tag string) (dref.NamedTagged, error) {
	return dref.WithTag(dref.TrimNamed(n), tag)
}

// WithDigest returns the canonical name@digest reference.
func WithDigest(n Named, d digest.Digest) (dref.Canonical, error) {
	return dref.WithDigest(dref.TrimNamed(n), d)
}

// LooksLikeID reports whether s could be an image or container ID or ID
// prefix (hex, optionally prefixed sha256:), as docker's lookup does.
func LooksLikeID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// IsFullID reports whether s is a whole ID: 64 lowercase hex digits (no
// sha256: prefix).
func IsFullID(s string) bool {
	return len(s) == 64 && !strings.HasPrefix(s, "sha256:") && LooksLikeID(s)
}

// Describe renders a reference for messages.
func Describe(n Named) string { return fmt.Sprintf("%q", Familiar(n)) }
