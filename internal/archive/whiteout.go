package archive

import "strings"

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
)

// isOverlayXattr reports whether name is one of overlayfs's private
// attributes, which never travel inside a layer tar.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, overlayXattrPrefix) || strings.HasPrefix(name, overlayUserXattrPrefix)
}
