package storage

import (
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// MaxNameLength is the longest repository name accepted.
const MaxNameLength = 255

// ValidName reports whether name is a repository name of the distribution
// grammar: lowercase components [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by "/".
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLength {
		return false
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' {
			if !validComponent(name[start:i]) {
				return false
			}
			start = i + 1
		}
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func validComponent(c string) bool {
	if c == "" || !isAlnum(c[0]) || !isAlnum(c[len(c)-1]) {
		return false
	}
	for i := 1; i < len(c); i++ {
		switch ch := c[i]; {
		case isAlnum(ch):
		case ch == '.':
			if !isAlnum(c[i-1]) {
				return false
			}
		case ch == '_':
			// "_" or "__" between alphanumerics
			if !isAlnum(c[i-1]) && !(c[i-1] == '_' && i >= 2 && isAlnum(c[i-2])) {
				return false
			}
		case ch == '-':
			if !isAlnum(c[i-1]) && c[i-1] != '-' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ValidTag reports whether tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func ValidTag(tag string) bool {
	if len(tag) == 0 || len(tag) > 128 {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if i > 0 {
			ok = ok || c == '.' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

// ParseDigest validates a digest of a supported algorithm (sha256, sha512).
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", errdefs.InvalidArgumentf("invalid digest %q: %v", s, err)
	}
	if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return "", errdefs.InvalidArgumentf("unsupported digest algorithm %q", a)
	}
	return d, nil
}

func checkName(name string) error {
	if !ValidName(name) {
		return errdefs.InvalidArgumentf("invalid repository name %q", name)
	}
	return nil
}
