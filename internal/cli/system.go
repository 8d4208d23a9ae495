package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/units"
)

type dfRow struct {
	Active      string
	Reclaimable string
	Size        string
	TotalCount  string
	Type        string
}

var dfHeaders = map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}

type dfImageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
}

func newSystemDfCmd(e *env) *cobra.Command {
	var verbose bool
	var format string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show hoist disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := e.engine().DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			u, cu, vols, bu := d.Images, d.Containers, d.Volumes, d.BuildCache
			bActive, bReclaim := d.BuildActive, d.BuildReclaimable
			if verbose {
				return e.printDfVerbose(cmd.Context(), u, cu, vols, bu, d.Leftovers)
			}
			rec := units.HumanSize(u.Reclaimable, 4)
			if u.Size > 0 {
				rec = fmt.Sprintf("%s (%d%%)", rec, u.Reclaimable*100/u.Size)
			}
			crec := units.HumanSize(cu.Reclaimable, 4)
			if cu.Size > 0 {
				crec = fmt.Sprintf("%s (%d%%)", crec, cu.Reclaimable*100/cu.Size)
			}
			var vsize, vunused int64
			vused := 0
			for _, v := range vols {
				n := v.Size()
				vsize += n
				if len(v.UsedBy) > 0 {
					vused++
				} else {
					vunused += n
				}
			}
			vrec := units.HumanSize(vunused, 4)
			if vsize > 0 {
				vrec = fmt.Sprintf("%s (%d%%)", vrec, vunused*100/vsize)
			}
			rows := []any{
				dfRow{Type: "Images", TotalCount: fmt.Sprint(len(u.Images)), Active: fmt.Sprint(u.Active), Size: units.HumanSize(u.Size, 4), Reclaimable: rec},
				dfRow{Type: "Containers", TotalCount: fmt.Sprint(cu.Containers), Active: fmt.Sprint(cu.Running), Size: units.HumanSize(cu.Size, 4), Reclaimable: crec},
				dfRow{Type: "Local Volumes", TotalCount: fmt.Sprint(len(vols)), Active: fmt.Sprint(vused), Size: units.HumanSize(vsize, 4), Reclaimable: vrec},
				dfRow{Type: "Build Cache", TotalCount: fmt.Sprint(bu.Records), Active: fmt.Sprint(bActive), Size: units.HumanSize(bu.Size, 4), Reclaimable: units.HumanSize(bReclaim, 4)},
			}
			return renderList(e.out, format, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", dfHeaders, rows)
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

func (e *env) printDfVerbose(ctx context.Context, u engine.ImageUsage, cu engine.ContainerUsage, vols []engine.Volume, bu engine.BuildCacheUsage, leftovers []engine.Leftover) error {
	fmt.Fprintf(e.out, "Images space usage:\n\n")
	var rows []any
	for _, iu := range u.Images {
		for _, r := range imageRows(iu.Image, false, false, false) {
			rows = append(rows, dfImageRow{
				Containers: fmt.Sprint(iu.Containers), CreatedAt: r.CreatedAt, CreatedSince: r.CreatedSince,
				ID: r.ID, Repository: r.Repository, Tag: r.Tag, Size: units.HumanSize(iu.Size, 3),
				SharedSize: units.HumanSize(iu.SharedSize, 3), UniqueSize: units.HumanSize(iu.UniqueSize, 3),
			})
		}
	}
	h := map[string]string{"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
		"Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}
	if err := renderList(e.out, "", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}", h, rows); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "\nContainers space usage:\n\n")
	rows = rows[:0]
	for _, c := range cu.Each {
		r := makePsRow(ctx, c.Container, e.engine().ContainerImage(ctx, c.Container), false, nil)
		r.Size = units.HumanSize(c.Size, 3)
		rows = append(rows, r)
	}
	if err := renderList(e.out, "", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}", psHeaders, rows); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "\nLocal Volumes space usage:\n\n")
	type volumeUsageRow struct{ Name, Links, Size string }
	rows = rows[:0]
	for _, v := range vols {
		rows = append(rows, volumeUsageRow{Name: v.Name, Links: fmt.Sprint(len(v.UsedBy)), Size: units.HumanSize(v.Size(), 3)})
	}
	if err := renderList(e.out, "", "table {{.Name}}\t{{.Links}}\t{{.Size}}", map[string]string{"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "\nBuild cache usage: %s\n\n", units.HumanSize(bu.Size, 3))
	type cacheRow struct{ ID, Type, Size, Created, LastUsed, Usage, Shared string }
	rows = rows[:0]
	for _, it := range bu.Items {
		rows = append(rows, cacheRow{ID: it.ID, Type: it.Type, Size: units.HumanSize(it.Size, 3),
			Created: createdSince(it.Created), Shared: strconv.FormatBool(it.Shared)})
	}
	for _, l := range leftovers {
		r := cacheRow{ID: l.What, Type: "interrupted", Size: units.HumanSize(l.Size, 3), Usage: "0", Shared: "false"}
		if l.Live {
			r.Type, r.Usage = "in progress", "1"
		}
		rows = append(rows, r)
	}
	return renderList(e.out, "", "table {{.ID}}\t{{.Type}}\t{{.Size}}\t{{.Created}}\t{{.LastUsed}}\t{{.Usage}}\t{{.Shared}}",
		map[string]string{"ID": "CACHE ID", "Type": "CACHE TYPE", "Size": "SIZE", "Created": "CREATED", "LastUsed": "LAST USED", "Usage": "USAGE", "Shared": "SHARED"}, rows)
}

func newSystemPruneCmd(e *env) *cobra.Command {
	var all, force, volumes bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := engine.ParseFilters(filters, "until", "label")
			if err != nil {
				return filterFailure(err)
			}
			what := "  - all stopped containers\n"
			if volumes {
				what += "  - all volumes not used by at least one container\n"
			}
			if all {
				what += "  - all images without at least one container associated to them\n"
			} else {
				what += "  - all dangling images\n"
			}
			if !force && !e.confirm("WARNING! This will remove:\n"+what+"  - unused build cache\n") {
				return nil
			}
			ctrBytes, err := e.pruneContainers(cmd.Context(), f)
			if err != nil {
				return err
			}
			var volBytes int64
			if volumes {
				removed, n, err := e.engine().PruneVolumes(cmd.Context())
				if err != nil {
					return err
				}
				printDeletedVolumes(e, removed)
				volBytes = n
			}
			rep, err := e.engine().PruneImages(cmd.Context(), engine.ImagePruneOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			printDeletedImages(e, rep)
			// The build cache too, as the warning says (and docker does).
			buildBytes, err := e.engine().PruneBuildData(cmd.Context(), all, f)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, "Total reclaimed space:", units.HumanSize(ctrBytes+volBytes+rep.Reclaimed+buildBytes, 3))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "Prune volumes")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}

func newSystemCheckCmd(e *env) *cobra.Command {
	var repair bool
	cmd := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Verify every blob digest and every record's references",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := e.engine().CheckStore(cmd.Context(), repair)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "Checked %d blobs, %d layers, %d images.\n", rep.Blobs, rep.Layers, rep.Images)
			for _, p := range rep.Problems {
				fmt.Fprintln(e.out, "problem:", p)
			}
			for _, l := range rep.Leftovers {
				fmt.Fprintln(e.out, "leftover:", l)
			}
			for _, r := range rep.Repaired {
				fmt.Fprintln(e.out, "repaired:", r)
			}
			if len(rep.Problems) == 0 {
				fmt.Fprintln(e.out, "No problems found.")
				return nil
			}
			if repair {
				fmt.Fprintln(e.out, "Problems were repaired.")
				return nil
			}
			return fmt.Errorf("%d problems found; run 'hoist system check --repair' to fix them", len(rep.Problems))
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "Remove broken records and leftovers")
	return cmd
}

func newInfoCmd(e *env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := e.engine().Info(cmd.Context())
			if err != nil {
				return err
			}
			if format != "" {
				return renderInspectOne(e, format, d)
			}
			rts := make([]string, 0, len(d.Runtimes))
			for k := range d.Runtimes {
				rts = append(rts, k)
			}
			sort.Strings(rts)
			fmt.Fprintf(e.out, "Client: hoist\n Version:    %s\n\nServer:\n", Version)
			fmt.Fprintf(e.out, " Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n Images: %d\n", d.Containers, d.ContainersRunning, d.ContainersPaused, d.ContainersStopped, d.Images)
			fmt.Fprintf(e.out, " Server Version: %s\n Storage Driver: %s\n", d.ServerVersion, d.Driver)
			for _, ds := range d.DriverStatus {
				fmt.Fprintf(e.out, "  %s: %s\n", ds[0], ds[1])
			}
			fmt.Fprintf(e.out, " Runtimes: %s\n Default Runtime: %s\n", strings.Join(rts, " "), d.DefaultRuntime)
			fmt.Fprintf(e.out, " Plugins:\n  Network: bridge host null\n Network Transport: %s\n", d.NetworkTransport)
			if len(d.SecurityOptions) > 0 {
				fmt.Fprintln(e.out, " Security Options:")
			}
			for _, o := range d.SecurityOptions {
				name, profile, _ := strings.Cut(strings.TrimPrefix(o, "name="), ",profile=")
				fmt.Fprintf(e.out, "  %s\n", name)
				if profile != "" {
					fmt.Fprintf(e.out, "   Profile: %s\n", profile)
				}
			}
			fmt.Fprintf(e.out, " Kernel Version: %s\n Operating System: %s\n OSType: %s\n Architecture: %s\n CPUs: %d\n Total Memory: %s\n Name: %s\n Hoist Root Dir: %s\n",
				d.KernelVersion, d.OperatingSystem, d.OSType, d.Architecture, d.NCPU, units.BytesSize(d.MemTotal), d.Name, d.DockerRootDir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

// renderInspectOne executes a --format template on one value.
func renderInspectOne(e *env, format string, v any) error {
	return renderInspect(e.out, format, []any{v})
}
