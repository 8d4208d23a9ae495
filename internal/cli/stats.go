package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/units"
)

// statsRow is one `stats` line; field names are docker's --format names.
type statsRow struct {
	Container, ID, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

func newStatsCmd(e *env) *cobra.Command {
	var noStream, noTrunc bool
	var format string
	c := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			tty := false
			if f, ok := e.out.(interface{ Fd() uintptr }); ok {
				tty = term.IsTerminal(int(f.Fd()))
			}
			for {
				st, err := e.engine().Stats(cmd.Context(), args, time.Second)
				if err != nil {
					if cmd.Context().Err() != nil {
						return nil // ^C
					}
					return err
				}
				if !noStream && tty {
					fmt.Fprint(e.out, "\033[2J\033[H") // docker redraws the screen
				}
				if err := renderList(e.out, format, "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
					map[string]string{"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
						"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}, statsRows(st, noTrunc)); err != nil {
					return err
				}
				if noStream {
					return nil
				}
			}
		},
	}
	c.Flags().BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	c.Flags().StringVar(&format, "format", "", "Pretty-print images using a Go template")
	return c
}

func statsRows(st []engine.Stats, noTrunc bool) []any {
	var rows []any
	for _, s := range st {
		id := s.ID
		if !noTrunc {
			id = id[:12]
		}
		memPerc := 0.0
		if s.MemLimit > 0 {
			memPerc = float64(s.MemUsage) / float64(s.MemLimit) * 100
		}
		rows = append(rows, statsRow{
			Container: id, ID: id, Name: s.Name, CPUPerc: fmt.Sprintf("%.2f%%", s.CPUPercent),
			MemUsage: units.BytesSize(int64(s.MemUsage)) + " / " + units.BytesSize(int64(s.MemLimit)),
			MemPerc:  fmt.Sprintf("%.2f%%", memPerc),
			NetIO:    units.HumanSize(int64(s.NetRx), 3) + " / " + units.HumanSize(int64(s.NetTx), 3),
			BlockIO:  units.HumanSize(int64(s.BlockRead), 3) + " / " + units.HumanSize(int64(s.BlockWrite), 3),
			PIDs:     fmt.Sprint(s.Pids),
		})
	}
	return rows
}
