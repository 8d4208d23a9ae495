package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/images"
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
			m, err := e.containers()
			if err != nil {
				return err
			}
			cs, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			match, err := psFilter(filters, func(ref string) (*container.Container, error) { return m.Get(cmd.Context(), ref) })
			if err != nil {
				return &shapedErr{err: err, daemon: true} // docker's daemon checks filters
			}
			if latest {
				last = 1
			}
			// docker computes sizes for -s and for formats that show them
			if strings.Contains(format, ".Size") || format == "json" || strings.Contains(format, "json .}") {
				size = true
			}
			var sizes func(*container.Container) (int64, int64)
			if size {
				sizes = e.containerSizer(cmd.Context())
			}
			var rows []any
			var ids []string
			for _, ctr := range cs {
				if !all && last <= 0 && !ctr.State.Running() && !hasStatusFilter(filters) {
					continue
				}
				if !match(ctr) {
					continue
				}
				if last > 0 && len(rows) >= last {
					break
				}
				r := makePsRow(ctr, noTrunc, sizes)
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

func hasStatusFilter(filters []string) bool {
	for _, f := range filters {
		if strings.HasPrefix(f, "status=") || strings.HasPrefix(f, "exited=") {
			return true
		}
	}
	return false
}

// psFilter builds the predicate for -f filters (ANDed across keys, ORed
// within one key, as docker does); lookup finds the container before= and
// since= name.
func psFilter(filters []string, lookup func(ref string) (*container.Container, error)) (func(*container.Container) bool, error) {
	created := map[string]time.Time{} // before=/since= reference -> its creation time
	ports := map[string]portRange{}   // publish=/expose= value -> its ports
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.InvalidArgumentf("Bad format of filter (expected name=value)")
		}
		switch k {
		case "status":
			switch v {
			case container.StatusCreated, container.StatusRestarting, container.StatusRunning,
				container.StatusRemoving, container.StatusPaused, container.StatusExited, container.StatusDead:
			default:
				return nil, errdefs.InvalidArgumentf("Invalid filter 'status=%s'", v)
			}
		case "health":
			switch v {
			case container.HealthStarting, container.HealthHealthy, container.HealthUnhealthy, "none":
			default:
				return nil, errdefs.InvalidArgumentf("Unrecognised filter value for health: %s", v)
			}
		case "before", "since":
			ref, err := lookup(v)
			if err != nil {
				return nil, err
			}
			created[v] = ref.Created
		case "publish", "expose":
			r, err := parsePortRange(v)
			if errors.Is(err, errPortOrder) {
				ports, _, _ := strings.Cut(v, "/")
				err = fmt.Errorf("Invalid range specified for the Port: %s", ports)
			}
			if err != nil {
				return nil, errdefs.InvalidArgumentf("error while looking up for %s %s: %v", k, v, err)
			}
			ports[v] = r
		case "name", "ancestor", "label", "exited", "id", "volume", "network":
		default:
			return nil, errdefs.InvalidArgumentf("Invalid filter '%s'", k)
		}
		byKey[k] = append(byKey[k], v)
	}
	one := func(c *container.Container, k, v string) bool {
		switch k {
		case "status":
			return c.State.Status == v
		case "name":
			return strings.Contains(c.Name, strings.TrimPrefix(v, "/"))
		case "id":
			return strings.HasPrefix(c.ID, v)
		case "ancestor":
			img := c.Config.Image
			return img == v || strings.TrimSuffix(img, ":latest") == strings.TrimSuffix(v, ":latest") ||
				strings.TrimPrefix(c.ImageID, "sha256:") == strings.TrimPrefix(v, "sha256:") ||
				(len(v) >= 4 && strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), strings.TrimPrefix(v, "sha256:")))
		case "label":
			return images.LabelMatches(c.Config.Labels, v)
		case "exited":
			n, err := strconv.Atoi(v)
			return err == nil && c.State.Status == container.StatusExited && c.State.ExitCode == n
		case "health":
			if h := c.State.Health; h != nil && c.State.Running() {
				return h.Status == v
			}
			return v == "none"
		case "before":
			return c.Created.Before(created[v])
		case "since":
			return c.Created.After(created[v])
		case "volume":
			return slices.ContainsFunc(c.Mounts, func(mp container.MountPoint) bool {
				return mp.Name == v || mp.Source == v || mp.Destination == v
			})
		case "network":
			return c.Network() == v
		case "publish", "expose":
			r := ports[v]
			if k == "publish" {
				return slices.ContainsFunc(c.Ports, func(p network.PortBinding) bool { return r.has(p.ContainerPort, p.Proto) })
			}
			for p := range c.Config.ExposedPorts {
				port, proto, _ := strings.Cut(p, "/")
				if n, err := strconv.Atoi(port); err == nil && r.has(n, proto) {
					return true
				}
			}
			return false
		}
		return false
	}
	return matchAll(byKey, one), nil
}

// matchAll is docker's rule for repeated filters: every key must match,
// through at least one of its values.
func matchAll[T any](byKey map[string][]string, one func(T, string, string) bool) func(T) bool {
	return func(x T) bool {
		for k, vs := range byKey {
			if !slices.ContainsFunc(vs, func(v string) bool { return one(x, k, v) }) {
				return false
			}
		}
		return true
	}
}

func makePsRow(c *container.Container, noTrunc bool, sizes func(*container.Container) (int64, int64)) psRow {
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
	img := c.Config.Image
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
		RunningFor: humanDuration(time.Since(c.Created)) + " ago",
		Ports:      c.PortsString(), Status: statusString(c), Names: c.Name,
		Labels: labelString(c.Config.Labels), Mounts: strings.Join(mounts, ","), State: c.State.Status,
		Networks: c.Network(), LocalVolumes: strconv.Itoa(volumes), labels: c.Config.Labels,
	}
	if sizes != nil {
		rw, rootFs := sizes(c)
		r.Size = fmt.Sprintf("%s (virtual %s)", units.HumanSize(rw, 3), units.HumanSize(rootFs, 3))
	}
	return r
}

// containerSizer returns docker's sizes of a container: its writable layer
// (SizeRw) and that plus its image's (SizeRootFs).
func (e *env) containerSizer(ctx context.Context) func(*container.Container) (rw, rootFs int64) {
	st, _ := e.imageStore()
	return func(c *container.Container) (int64, int64) {
		rw := fsutil.DirSize(filepath.Join(c.Dir(), "upper"))
		var img int64
		if st != nil {
			if i, err := st.Get(ctx, c.ImageID); err == nil {
				img = i.Size
			}
		}
		return rw, rw + img
	}
}

// portRange is a PORT[/PROTO] or START-END[/PROTO] argument (publish= and
// expose= filters, --expose); proto "" means any.
type portRange struct {
	lo, hi int
	proto  string
}

// parsePortRange reads a portRange. A bad number gets strconv's error (as
// docker's messages quote it), an end before the start errPortOrder.
func parsePortRange(v string) (portRange, error) {
	ports, proto, _ := strings.Cut(v, "/")
	a, b, isRange := strings.Cut(ports, "-")
	lo, err := strconv.ParseUint(a, 10, 16)
	hi := lo
	if err == nil && isRange {
		hi, err = strconv.ParseUint(b, 10, 16)
	}
	if err != nil {
		return portRange{}, err
	}
	if hi < lo {
		return portRange{}, errPortOrder
	}
	return portRange{lo: int(lo), hi: int(hi), proto: proto}, nil
}

// errPortOrder is parsePortRange's error for START-END with END < START.
var errPortOrder = errors.New("port range ends before it starts")

func (r portRange) has(port int, proto string) bool {
	return port >= r.lo && port <= r.hi && (r.proto == "" || r.proto == proto)
}
