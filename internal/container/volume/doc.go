// Package volume owns volumes: docker's -v HOST:CTR[:OPTS] and
// NAME:CTR[:OPTS] syntax (ParseBind, CheckName), the local volume
// directories and their management (Create, Get, List, Delete, Prune: the
// `volume` verbs), and the copy-up of an image's content into an empty
// volume (Populate). Which container uses which volume is the container
// records' business, not this package's: callers pass it in (Users).
//
// # On-disk layout (under the hoist root)
//
//	volumes/<name>/_data   the volume's content (named volumes, and
//	                       anonymous ones named by a random 64-hex ID)
package volume
