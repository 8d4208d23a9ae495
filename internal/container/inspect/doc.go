// Package inspect builds `docker container inspect`'s object from a
// container record (Of): every field docker 20.10 shows, in its order, with
// docker's defaults where hoist has no use for a setting, so that
// templates written for docker's output work unchanged.
package inspect
