package archive

import (
	"strings"

	"golang.org/x/sys/unix"
)

// The whiteout conventions of the OCI image spec (inherited from AUFS).
const (
	// WhiteoutPrefix marks a deletion: ".wh.NAME" deletes NAME from the
	// layers below.
	WhiteoutPrefix = ".wh."
	// WhiteoutMetaPrefix marks AUFS metadata (".wh..wh.plnk", ...), which
	// is skipped on apply.
	WhiteoutMetaPrefix = WhiteoutPrefix + WhiteoutPrefix
	// WhiteoutOpaqueDir in a directory hides everything the layers below
	// have in that directory.
	WhiteoutOpaqueDir = WhiteoutMetaPrefix + ".opq"
)

// Overlay's own markers in an upper or layer directory.
const (
	overlayOpaqueXattr     = "trusted.overlay.opaque"
	overlayUserOpaqueXattr = "user.overlay.opaque"
	overlayXattrPrefix     = "trusted.overlay."
	overlayUserXattrPrefix = "user.overlay."
	// fuse-overlayfs's own (user.fuseoverlayfs.opaque, .origin).
	fuseXattrPrefix = "user.fuseoverlayfs."
	fuseOpaqueXattr = fuseXattrPrefix + "opaque"
)

// opaqueXattrs are the attributes that mark a directory opaque ("y"):
// the kernel's (trusted.*, or user.* with userxattr) and fuse-overlayfs's.
var opaqueXattrs = []string{overlayOpaqueXattr, overlayUserOpaqueXattr, fuseOpaqueXattr}

// isOverlayXattr reports whether name is one of overlayfs's (or
// fuse-overlayfs's) private attributes, which never travel inside a layer
// tar.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, overlayXattrPrefix) || strings.HasPrefix(name, overlayUserXattrPrefix) ||
		strings.HasPrefix(name, fuseXattrPrefix)
}

// overlayXattrSuffix is what follows the overlay prefix of a private
// attribute ("opaque", "whiteout", "redirect", ...).
func overlayXattrSuffix(name string) string {
	for _, p := range []string{overlayXattrPrefix, overlayUserXattrPrefix, fuseXattrPrefix} {
		if s, ok := strings.CutPrefix(name, p); ok {
			return s
		}
	}
	return ""
}

// Markers of fuse-overlayfs in an upper directory, besides the kernel's
// char device 0/0 whiteouts (which it makes where mknod is allowed): it
// keeps the AUFS names, which no file in its mounts can have (it refuses
// to create a name starting with ".wh."). ".wh.NAME", of any type, is a
// whiteout of NAME; ".wh..wh..opq" marks its directory opaque (beside the
// user.fuseoverlayfs.opaque attribute), and a new opaque directory also
// gets a whiteout ".wh..opq", which hides nothing an opaque directory does
// not already hide.
//
// upperWhiteout reports, for an entry name of an upper directory, whether
// it is an AUFS-style marker and, if it is a whiteout to keep (not the
// opaque marker, not in an opaque directory), the name it deletes.
func upperWhiteout(name string, dirOpaque bool) (deleted string, marker bool) {
	rest, ok := strings.CutPrefix(name, WhiteoutPrefix)
	if !ok {
		return "", false
	}
	if name == WhiteoutOpaqueDir || dirOpaque {
		return "", true
	}
	return rest, true
}

// opaqueDirAt reports whether the directory name in dirfd (dirfd itself
// when name is "") is an opaque overlay directory: one of opaqueXattrs is
// "y", or it holds a ".wh..wh..opq" (fuse-overlayfs where it cannot set
// attributes).
func opaqueDirAt(dirfd int, name string) bool {
	p := procFdPath(dirfd)
	if name != "" {
		p += "/" + name
	}
	for _, attr := range opaqueXattrs {
		if v, err := getXattr(-1, p, attr); err == nil && string(v) == "y" {
			return true
		}
	}
	var st unix.Stat_t
	return unix.Lstat(p+"/"+WhiteoutOpaqueDir, &st) == nil
}
