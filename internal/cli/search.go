package cli

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/spf13/cobra"
)

// searchRow is one line of `search`; the fields are docker's template
// names, in the (alphabetical) order of docker's JSON output.
type searchRow struct {
	Description string
	IsAutomated string
	IsOfficial  string
	Name        string
	StarCount   string
}

func newSearchCmd(e *env) *cobra.Command {
	var filters []string
	var limit int
	var noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search Docker Hub (or [REGISTRY/]TERM on another registry) for images",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			results, err := e.engine().Search(cmd.Context(), args[0], limit, filters, nil)
			var re *engine.RegistryError
			if errors.As(err, &re) {
				return e.daemonError(re.Err)
			}
			if err != nil {
				return err
			}
			jsonOut := format == "json"
			rows := make([]any, 0, len(results))
			for _, r := range results {
				desc := strings.NewReplacer("\n", " ", "\r", " ").Replace(r.Description)
				if !noTrunc {
					desc = ellipsis(desc, 45)
				}
				rows = append(rows, searchRow{
					Name: r.Name, Description: desc, StarCount: strconv.Itoa(r.StarCount),
					IsOfficial: okFlag(r.IsOfficial, jsonOut), IsAutomated: okFlag(r.IsAutomated, jsonOut),
				})
			}
			return renderList(e.out, format,
				"table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}",
				map[string]string{"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"},
				rows)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.IntVar(&limit, "limit", 25, "Max number of search results")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&format, "format", "", "Pretty-print search using a Go template")
	return cmd
}

// okFlag renders a flag as docker's search table does ("[OK]" or nothing),
// or "true"/"false" in JSON.
func okFlag(v, jsonOut bool) string {
	switch {
	case jsonOut:
		return strconv.FormatBool(v)
	case v:
		return "[OK]"
	}
	return ""
}

// ellipsis cuts s to max display columns (East Asian wide characters count
// two), ending with "…", as docker's tables do.
func ellipsis(s string, max int) string {
	if max <= 0 {
		return ""
	}
	rs := []rune(s)
	if max == 1 {
		if len(rs) == 0 {
			return ""
		}
		return string(rs[0])
	}
	if len(s) == utf8.RuneCountInString(s) { // ASCII fast path
		if len(s) <= max {
			return s
		}
		return string(rs[:max-1]) + "…"
	}
	width := 0
	for _, r := range rs {
		width += runeWidth(r)
	}
	if width <= max {
		return s
	}
	w := 0
	for i, r := range rs {
		if w+runeWidth(r) > max-1 {
			return string(rs[:i]) + "…"
		}
		w += runeWidth(r)
	}
	return s
}

// runeWidth is 2 for East Asian wide and fullwidth characters, else 1.
func runeWidth(r rune) int {
	switch {
	case r >= 0x1100 && r <= 0x115F, r >= 0x2E80 && r <= 0x303E, r >= 0x3041 && r <= 0x33FF,
		r >= 0x3400 && r <= 0x4DBF, r >= 0x4E00 && r <= 0x9FFF, r >= 0xA000 && r <= 0xA4CF,
		r >= 0xAC00 && r <= 0xD7A3, r >= 0xF900 && r <= 0xFAFF, r >= 0xFE30 && r <= 0xFE4F,
		r >= 0xFF00 && r <= 0xFF60, r >= 0xFFE0 && r <= 0xFFE6, r >= 0x1F300 && r <= 0x1F64F,
		r >= 0x1F900 && r <= 0x1F9FF, r >= 0x20000 && r <= 0x2FFFD, r >= 0x30000 && r <= 0x3FFFD:
		return 2
	}
	return 1
}
