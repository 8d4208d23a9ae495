package cli

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/units"
)

type historyRow struct {
	Comment      string
	CreatedAt    string
	CreatedBy    string
	CreatedSince string
	ID           string
	Size         string
}

var historyHeaders = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT",
}

func newHistoryCmd(e *env) *cobra.Command {
	var human, noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := e.engine().History(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var rows []any
			for _, it := range items {
				r := historyRow{ID: it.ID, Comment: it.Comment}
				if it.ID != "<missing>" {
					r.ID = displayID(it.ID, noTrunc)
				}
				if human {
					r.CreatedSince = createdSince(it.Created)
					r.CreatedAt = it.Created.Local().Format(time.RFC3339)
					r.Size = units.HumanSize(it.Size, 3)
				} else {
					r.CreatedSince = it.Created.Local().Format(time.RFC3339)
					r.CreatedAt = r.CreatedSince
					r.Size = strconv.FormatInt(it.Size, 10)
				}
				r.CreatedBy = strings.ReplaceAll(it.CreatedBy, "\t", " ")
				if !noTrunc {
					r.CreatedBy = ellipsis(r.CreatedBy, 45)
				}
				rows = append(rows, r)
			}
			if quiet {
				format = "{{.ID}}"
			}
			return renderList(e.out, format, "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", historyHeaders, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}
