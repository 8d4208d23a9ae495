package engine

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hoistproject/hoist/internal/builder"
	"github.com/hoistproject/hoist/internal/images"
)

// The image values the front-ends pass in and get back: the image store's
// and the builder's own types, named here so that a front-end needs no
// other package.
type (
	Image              = images.Image
	ImageImportOptions = images.ImportOptions
	ImageListOptions   = images.ListOptions
	ImagePruneOptions  = images.PruneOptions
	ImagePruneReport   = images.PruneReport
	ImageDeleteOptions = images.DeleteOptions
	ImageDeleteItem    = images.DeleteItem
	HistoryItem        = images.HistoryItem
	ImageInspect       = images.InspectResponse
	StoreCheckReport   = images.CheckReport
	// BuilderOptions are the builder's options (BuildOptions.Options).
	BuilderOptions = builder.Options
	// BuildRunError is a RUN step that exited non-zero (its ExitCode is
	// build's exit status, as docker's).
	BuildRunError = builder.RunError
)

// NormalizeName is an image name's full form (docker.io/library/x:latest);
// an invalid name is an error.
func NormalizeName(s string) (string, error) { return images.NormalizeName(s) }

// Familiar is a full image name's short form, as docker prints it.
func Familiar(name string) string { return images.Familiar(name) }

// SplitName splits a full image name into its familiar repository and its
// tag or digest.
func SplitName(name string) (repo, tagOrDigest string) { return images.SplitName(name) }

// ShortID is an image ID's first 12 hex digits.
func ShortID(id digest.Digest) string { return images.ShortID(id) }

// ParseTimestamp reads docker's --since/--until values (RFC 3339, Unix
// seconds, or a duration before now).
func ParseTimestamp(v string, now time.Time) (time.Time, error) { return images.ParseTimestamp(v, now) }

// ParseFilters reads --filter values of the keys allowed; a bad one is a
// *FilterError (docker's daemon checks filters).
func ParseFilters(filters []string, allowed ...string) (Filters, error) {
	f, err := images.ParseFilters(filters, allowed...)
	if err != nil {
		return f, &FilterError{err}
	}
	return f, nil
}

// ListImages is images: the images o selects.
func (e *Engine) ListImages(ctx context.Context, o ImageListOptions) ([]Image, error) {
	s, err := e.images()
	if err != nil {
		return nil, err
	}
	return s.List(ctx, o)
}

// History is an image's history, newest first.
func (e *Engine) History(ctx context.Context, ref string) ([]HistoryItem, error) {
	s, err := e.images()
	if err != nil {
		return nil, err
	}
	return s.History(ctx, ref)
}

// InspectImage is docker's inspect object of an image.
func (e *Engine) InspectImage(ctx context.Context, ref string) (*ImageInspect, error) {
	s, err := e.images()
	if err != nil {
		return nil, err
	}
	return s.Inspect(ctx, ref)
}

// CheckStore verifies every blob digest and every record's references of
// the image store; with repair it removes broken records and leftovers,
// the RUN containers and snapshots of killed builds first.
func (e *Engine) CheckStore(ctx context.Context, repair bool) (StoreCheckReport, error) {
	s, err := e.images()
	if err != nil {
		return StoreCheckReport{}, err
	}
	if repair {
		builder.CleanupDead(s.Root(), e.buildRunner(s.Root()))
	}
	rep, err := s.Check(ctx, repair)
	if err != nil || !repair {
		return rep, err
	}
	done, err := e.RepairNetworks(ctx)
	rep.Repaired = append(rep.Repaired, done...)
	return rep, err
}
