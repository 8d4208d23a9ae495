package dockerfile

import (
	"runtime"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// IsProxyArg reports whether name is one of docker's predefined proxy ARGs
// (HTTP_PROXY, HTTPS_PROXY, FTP_PROXY, NO_PROXY, ALL_PROXY, in upper or lower
// case). They may be given with --build-arg without an ARG instruction, and
// docker leaves them out of the image history and of the cache key unless
// the Dockerfile declares them.
func IsProxyArg(name string) bool {
	switch name {
	case "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
		"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy":
		return true
	}
	return false
}

// IsPlatformArg reports whether name is one of the automatic platform ARGs.
func IsPlatformArg(name string) bool {
	switch name {
	case "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
		"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT":
		return true
	}
	return false
}

// IsPredefinedArg reports whether name is a proxy or platform ARG.
func IsPredefinedArg(name string) bool { return IsProxyArg(name) || IsPlatformArg(name) }

// HostPlatform is the platform hoist runs on (os/arch[/variant]).
func HostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// FormatPlatform renders os/arch[/variant].
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// PlatformArgs returns the values of the automatic platform ARGs for a
// build on build producing target. Like docker, they are in the global scope
// (usable in FROM) without declaration; inside a stage they are visible only
// after an `ARG NAME` without a default.
func PlatformArgs(target, build ocispec.Platform) map[string]string {
	return map[string]string{
		"TARGETPLATFORM": FormatPlatform(target),
		"TARGETOS":       target.OS,
		"TARGETARCH":     target.Architecture,
		"TARGETVARIANT":  target.Variant,
		"BUILDPLATFORM":  FormatPlatform(build),
		"BUILDOS":        build.OS,
		"BUILDARCH":      build.Architecture,
		"BUILDVARIANT":   build.Variant,
	}
}
