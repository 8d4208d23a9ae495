package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/units"
)

// psRow is one `ps` line; field names are docker's --format names, in
// the order of its {{json .}} (sorted, as docker's).
type psRow struct {
	Command, CreatedAt, ID, Image, Labels, LocalVolumes, Mounts, Names, Networks string
	Platform                                                                     *string
	Ports, RunningFor, Size, State, Status                                       string
	labels                                                                       map[string]string
}

// Label is docker's {{.Label "KEY"}}: one label's value ("" when unset).
func (r psRow) Label(name string) string { return r.labels[name] }

const psDefaultTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES",
	"Labels": "LABELS", "Mounts": "MOUNTS", "State": "STATE", "Networks": "NETWORKS",
	"LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM",
}

func newPsCmd(e *env) *cobra.Command {
	var all, quiet, latest, noTrunc, size bool
	var last int
	var filters []string
	var format string
	c := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"ls", "list"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if latest {
				last = 1
			}
			cs, err := e.engine().ListContainers(cmd.Context(), engine.ContainerListOptions{All: all, Last: last, Filters: filters})
			if err != nil {
				return filterFailure(err)
			}
			// docker computes sizes for -s and for formats that show them
			if strings.Contains(format, ".Size") || format == "json" || strings.Contains(format, "json .}") {
				size = true
			}
			var sizes func(context.Context, *engine.Container) (int64, int64)
			if size {
				sizes = e.engine().ContainerSize
			}
			var rows []any
			var ids []string
			for _, ctr := range cs {
				r := makePsRow(cmd.Context(), ctr, e.engine().ContainerImage(cmd.Context(), ctr), noTrunc, sizes)
				rows = append(rows, r)
				ids = append(ids, r.ID)
			}
			if quiet {
				for _, id := range ids {
					fmt.Fprintln(e.out, id)
				}
				return nil
			}
			def := psDefaultTable
			if size && format == "" {
				def += "\t{{.Size}}"
			}
			return renderList(e.out, format, def, psHeaders, rows)
		},
	}
	fs := c.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fs.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fs.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	fs.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fs.StringVar(&format, "format", "", "Format output using a custom template")
	return c
}

// newContainerListCmd is `hoist container ls` (ps under its management name).
func newContainerListCmd(e *env) *cobra.Command {
	c := newPsCmd(e)
	c.Use = "ls [OPTIONS]"
	c.Aliases = []string{"ps", "list"}
	return c
}

// makePsRow is c's row; img is its IMAGE (engine.ContainerImage).
func makePsRow(ctx context.Context, c *engine.Container, img string, noTrunc bool, sizes func(context.Context, *engine.Container) (int64, int64)) psRow {
	id := c.ID
	// docker's command line: arguments with a space in single quotes
	words := []string{c.Path}
	for _, a := range c.Args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		words = append(words, a)
	}
	command := strings.Join(words, " ")
	if img == c.ImageID {
		img = displayID(img, noTrunc)
	}
	if !noTrunc {
		id = id[:12]
		if len([]rune(command)) > 20 {
			command = string([]rune(command)[:19]) + "…"
		}
	}
	var mounts []string
	volumes := 0
	for _, mp := range c.Mounts {
		n := mp.Name
		if n == "" {
			n = mp.Source
		}
		mounts = append(mounts, n)
		if mp.Type == "volume" {
			volumes++
		}
	}
	r := psRow{
		ID: id, Image: img, Command: strconv.Quote(command),
		CreatedAt:  c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: units.HumanDuration(time.Since(c.Created)) + " ago",
		Status:     c.StatusText(), Names: c.Name,
		Labels: labelString(c.Config.Labels), Mounts: strings.Join(mounts, ","), State: c.State.Status,
		Networks: c.Network(), LocalVolumes: strconv.Itoa(volumes), labels: c.Config.Labels,
	}
	if c.State.Status == engine.StatusRunning || c.State.Status == engine.StatusPaused {
		r.Ports = c.PortsString() // docker clears them when the process exits
	}
	if sizes != nil {
		rw, rootFs := sizes(ctx, c)
		r.Size = fmt.Sprintf("%s (virtual %s)", units.HumanSize(rw, 3), units.HumanSize(rootFs, 3))
	}
	return r
}
