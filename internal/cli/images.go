package cli

import (
	"sort"
	"strings"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/units"
	"github.com/spf13/cobra"
)

// imageRow is one row of `images`; field names are docker's --format keys
// (alphabetical, as docker's JSON output).
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

var imageHeaders = map[string]string{
	"Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED",
	"Digest": "DIGEST", "ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE",
	"Size": "SIZE", "Tag": "TAG", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
}

func displayID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	if len(id) > 7 && id[:7] == "sha256:" {
		id = id[7:]
	}
	return id[:min(12, len(id))]
}

// imageRows expands an image into docker's rows: one per repository tag
// (per digest too with --digests, or when the format shows {{.Digest}}:
// withDigest), or one <none> row.
func imageRows(img engine.Image, digests, withDigest, noTrunc bool) []imageRow {
	base := imageRow{
		Containers:   "N/A",
		CreatedAt:    img.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		CreatedSince: createdSince(img.Created),
		ID:           displayID(img.ID.String(), noTrunc),
		SharedSize:   "N/A",
		Size:         units.HumanSize(img.Size, 3),
		UniqueSize:   "N/A",
		VirtualSize:  units.HumanSize(img.Size, 3),
	}
	if len(img.Names) == 0 && len(img.RepoDigests) == 0 {
		r := base
		r.Repository, r.Tag, r.Digest = "<none>", "<none>", "<none>"
		return []imageRow{r}
	}
	tags := map[string][]string{}
	dgs := map[string][]string{}
	for _, n := range img.Names {
		repo, tag := engine.SplitName(n)
		tags[repo] = append(tags[repo], tag)
	}
	for _, n := range img.RepoDigests {
		repo, dg := engine.SplitName(n)
		dgs[repo] = append(dgs[repo], dg)
	}
	var rows []imageRow
	add := func(repo, tag, dg string) {
		r := base
		r.Repository, r.Tag, r.Digest = repo, tag, dg
		rows = append(rows, r)
	}
	for _, repo := range sortedKeys(tags) {
		ds := dgs[repo]
		delete(dgs, repo)
		if !digests && !withDigest {
			ds = nil
		}
		for _, t := range tags[repo] {
			if len(ds) == 0 {
				add(repo, t, "<none>")
			}
			for _, d := range ds {
				add(repo, t, d)
			}
		}
	}
	for _, repo := range sortedKeys(dgs) {
		if digests {
			for _, d := range dgs[repo] {
				add(repo, "<none>", d)
			}
		} else {
			add(repo, "<none>", "") // docker's: no digest column asked for
		}
	}
	return rows
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newImagesCmd(e *env) *cobra.Command {
	var (
		all, quiet, digests, noTrunc bool
		format                       string
		filters                      []string
	)
	cmd := &cobra.Command{
		Use:     "images [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: []string{"list"},
		Short:   "List images",
		Args:    maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := engine.ParseFilters(filters, "dangling", "label", "reference", "before", "since", "until")
			if err != nil {
				return filterFailure(err)
			}
			if len(args) == 1 {
				f.Reference = append(f.Reference, args[0])
			}
			list, err := e.engine().ListImages(cmd.Context(), engine.ImageListOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			var rows []any
			for _, img := range list {
				// docker's client shows digests for a format naming them
				for _, r := range imageRows(img, digests, strings.Contains(format, "{{.Digest}}"), noTrunc) {
					rows = append(rows, r)
				}
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			if quiet {
				format = "{{.ID}}"
			}
			return renderList(e.out, format, def, imageHeaders, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.BoolVar(&digests, "digests", false, "Show digests")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	return cmd
}
