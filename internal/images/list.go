package images

import (
	"context"

	"slices"
	"strconv"
	"strings"
	"time"

	dref "github.com/distribution/reference"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

// Filters are the --filter options of `images` (and, for Until and
// Labels, of `image prune`).
type Filters struct {
	Dangling  *bool
	Labels    []string // "key" or "key=value"; a match needs all
	NotLabels []string // label!=: "key" or "key=value"; a match needs none
	Reference []string // patterns (path.Match on familiar names, as docker)
	Before    []string // image references
	Since     []string
	Until     []string // timestamps or durations
}

// ParseFilters parses docker's KEY=VALUE filter arguments; allowed are the
// keys named (e.g. "dangling", "label", "reference", "before", "since", "until").
func ParseFilters(args []string, allowed ...string) (Filters, error) {
	var f Filters
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return f, errdefs.InvalidArgumentf("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		neg := strings.HasSuffix(k, "!")
		k = strings.TrimSuffix(k, "!")
		if !slices.Contains(allowed, k) || (neg && k != "label") {
			return f, errdefs.InvalidArgumentf("Invalid filter '%s'", strings.TrimSuffix(k, "!"))
		}
		switch k {
		case "dangling":
			var b bool
			switch strings.ToLower(v) {
			case "true", "1":
				b = true
			case "false", "0":
			default:
				return f, errdefs.InvalidArgumentf("Invalid filter 'dangling=%s'", v)
			}
			if f.Dangling != nil && *f.Dangling != b {
				return f, errdefs.InvalidArgumentf("Invalid filter 'dangling=%s': conflicting values", v)
			}
			f.Dangling = &b
		case "label":
			if neg {
				f.NotLabels = append(f.NotLabels, v)
			} else {
				f.Labels = append(f.Labels, v)
			}
		case "reference":
			f.Reference = append(f.Reference, v)
		case "before":
			f.Before = append(f.Before, v)
		case "since":
			f.Since = append(f.Since, v)
		case "until":
			if _, err := ParseTimestamp(v, time.Now()); err != nil {
				return f, err
			}
			f.Until = append(f.Until, v)
		}
	}
	return f, nil
}

// ParseTimestamp reads docker's times (filters, logs --since/--until): a Go
// duration before now ("24h", "10m"), a Unix timestamp (with optional
// fraction), RFC 3339, or a date / date-time without zone (local time, as
// docker).
func ParseTimestamp(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); !ok || len(frac) <= 9 {
		if s, err := strconv.ParseInt(sec, 10, 64); err == nil {
			ns := int64(0)
			if ok {
				f := frac + strings.Repeat("0", 9-len(frac))
				if n, err := strconv.ParseInt(f, 10, 64); err == nil {
					ns = n
				} else {
					goto layouts
				}
			}
			return time.Unix(s, ns), nil
		}
	}
layouts:
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(l, v, now.Location()); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.InvalidArgumentf("invalid filter time %q: want a duration, Unix timestamp or RFC 3339 date", v)
}

// Keep reports whether an object created at created with labels passes
// f's until, label and label! filters (prune: images, containers).
func (f Filters) Keep(created time.Time, labels map[string]string, now time.Time) bool {
	for _, u := range f.Until {
		if t, err := ParseTimestamp(u, now); err != nil || !created.Before(t) {
			return false
		}
	}
	return labelsMatch(labels, f.Labels) && labelsMatchNone(labels, f.NotLabels)
}

func labelsMatch(have map[string]string, want []string) bool {
	for _, w := range want {
		if !LabelMatches(have, w) {
			return false
		}
	}
	return true
}

// LabelMatches reports whether labels satisfy one label filter value:
// "KEY" (set, any value) or "KEY=VALUE", as docker's label= filters.
func LabelMatches(labels map[string]string, filter string) bool {
	k, v, hasV := strings.Cut(filter, "=")
	got, ok := labels[k]
	return ok && (!hasV || got == v)
}

func labelsMatchNone(have map[string]string, not []string) bool {
	for _, w := range not {
		if labelsMatch(have, []string{w}) {
			return false
		}
	}
	return true
}

// ListOptions are `images` options.
type ListOptions struct {
	All     bool // include intermediate images
	Filters Filters
}

// List returns the images matching opts, newest first. With a reference
// filter, Names and RepoDigests hold only the matching references (as docker).
func (s *Store) List(ctx context.Context, opts ListOptions) ([]Image, error) {
	var out []Image
	f := opts.Filters
	now := time.Now()
	err := s.db.View(ctx, func(tx *metadata.Tx) error {
		recs, err := allRecords(tx)
		if err != nil {
			return err
		}
		names := allNames(tx)
		hasChild := map[digest.Digest]bool{}
		for _, r := range recs {
			if r.Parent != "" {
				hasChild[r.Parent] = true
			}
		}
		var before, since []time.Time
		for _, b := range f.Before {
			r, err := resolve(tx, b)
			if err != nil {
				return err
			}
			before = append(before, r.Created)
		}
		for _, b := range f.Since {
			r, err := resolve(tx, b)
			if err != nil {
				return err
			}
			since = append(since, r.Created)
		}
		var until []time.Time
		for _, u := range f.Until {
			t, err := ParseTimestamp(u, now)
			if err != nil {
				return err
			}
			until = append(until, t)
		}
	next:
		for _, r := range recs {
			tags := names[r.ID]
			slices.Sort(tags)
			for _, t := range before {
				if !r.Created.Before(t) {
					continue next
				}
			}
			for _, t := range since {
				if !r.Created.After(t) {
					continue next
				}
			}
			for _, t := range until {
				if !r.Created.Before(t) {
					continue next
				}
			}
			if !labelsMatch(r.Labels, f.Labels) || !labelsMatchNone(r.Labels, f.NotLabels) {
				continue
			}
			digests := slices.Clone(r.RepoDigests)
			if len(f.Reference) > 0 {
				tags = matchRefs(tags, f.Reference)
				digests = matchRefs(digests, f.Reference)
				if len(tags) == 0 && len(digests) == 0 {
					continue
				}
			}
			if f.Dangling != nil {
				if *f.Dangling != (len(tags) == 0) {
					continue
				}
			}
			if len(tags) == 0 && len(digests) == 0 && !opts.All && hasChild[r.ID] {
				continue // intermediate image
			}
			r.RepoDigests = digests
			out = append(out, Image{Record: r, Names: tags})
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Image) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out, err
}

func matchRefs(refs, patterns []string) []string {
	var out []string
	for _, r := range refs {
		n, err := dref.ParseNormalizedNamed(r)
		if err != nil {
			continue
		}
		for _, p := range patterns {
			if ok, err := dref.FamiliarMatch(p, n); err == nil && ok {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// Count returns how many image records the store holds.
func (s *Store) Count(ctx context.Context) (int, error) {
	n := 0
	err := s.db.View(ctx, func(tx *metadata.Tx) error {
		if b := metadata.ReadBucket(tx, imagesBucket); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}
