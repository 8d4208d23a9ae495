package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/units"
)

// newVolumeCmd is `hoist volume`: docker's management of local volumes
// (those -v NAME:/path and the images' VOLUMEs make).
func newVolumeCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "volume", Short: "Manage volumes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	c.AddCommand(newVolumeCreateCmd(e), newVolumeLsCmd(e), newVolumeInspectCmd(e),
		newVolumeRmCmd(e), newVolumePruneCmd(e))
	return c
}

func newVolumeCreateCmd(e *env) *cobra.Command {
	var name, driver string
	var labels, opts []string
	c := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return fmt.Errorf("conflicting options: either specify --name or provide positional arg, not both")
				}
				name = args[0]
			}
			if driver != "local" {
				return &shapedErr{err: fmt.Errorf("create %s: error looking up volume plugin %s: plugin %q not found", name, driver, driver), daemon: true}
			}
			if len(opts) > 0 {
				// docker's local driver mounts type/device/o when the volume
				// is used; hoist's local volumes are plain directories.
				return &shapedErr{err: fmt.Errorf("create %s: volume options (-o %s) are not supported: hoist's local volumes are directories", name, opts[0]), daemon: true}
			}
			n, err := e.engine().CreateVolume(cmd.Context(), name, keyValues(labels))
			if err != nil {
				return &shapedErr{err: err, daemon: true}
			}
			fmt.Fprintln(e.out, n)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "Specify volume name")
	c.Flags().StringVarP(&driver, "driver", "d", "local", "Specify volume driver name (local)")
	c.Flags().StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	c.Flags().StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options (not supported: local volumes are directories)")
	return c
}

// labelString is docker's LABELS column: k=v pairs, sorted, comma-joined.
func labelString(labels map[string]string) string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// volumeRow is one line of `volume ls`.
type volumeRow struct{ Driver, Name, Mountpoint, Scope, Labels string }

func newVolumeLsCmd(e *env) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	c := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vols, err := e.engine().Volumes(cmd.Context(), filters)
			if err != nil {
				return filterFailure(err)
			}
			var rows []any
			for _, v := range vols {
				if quiet {
					fmt.Fprintln(e.out, v.Name)
					continue
				}
				rows = append(rows, volumeRow{Driver: "local", Name: v.Name, Mountpoint: v.Mountpoint, Scope: "local", Labels: labelString(v.Labels)})
			}
			if quiet {
				return nil
			}
			return renderList(e.out, format, "table {{.Driver}}\t{{.Name}}",
				map[string]string{"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE", "Labels": "LABELS"}, rows)
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	c.Flags().StringVar(&format, "format", "", "Pretty-print volumes using a Go template")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, `Provide filter values (e.g. "dangling=true")`)
	return c
}

// volumeInspect is docker's `volume inspect` object, in its field order.
type volumeInspect struct {
	CreatedAt  string
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
}

func newVolumeInspectCmd(e *env) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var items []any
			var missing []error
			for _, name := range args {
				v, err := e.engine().Volume(cmd.Context(), name)
				if err != nil {
					missing = append(missing, err)
					continue
				}
				items = append(items, volumeInspect{CreatedAt: v.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"),
					Driver: "local", Labels: v.Labels, Mountpoint: v.Mountpoint, Name: v.Name, Scope: "local"})
			}
			if err := renderInspect(e.out, format, items); err != nil {
				return err
			}
			for _, err := range missing {
				fmt.Fprintln(e.errOut, "Error response from daemon:", err)
			}
			if len(missing) > 0 {
				return &StatusError{Code: 1}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json', 'TEMPLATE'")
	return c
}

func newVolumeRmCmd(e *env) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(e, args, func(name string) error { return e.engine().RemoveVolume(cmd.Context(), name, force) })
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return c
}

func newVolumePruneCmd(e *env) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused local volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !e.confirm("WARNING! This will remove all local volumes not used by at least one container.") {
				return nil
			}
			removed, reclaimed, err := e.engine().PruneVolumes(cmd.Context())
			if err != nil {
				return err
			}
			printDeletedVolumes(e, removed)
			fmt.Fprintln(e.out, "Total reclaimed space:", units.HumanSize(reclaimed, 3))
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return c
}

// printDeletedVolumes prints docker's "Deleted Volumes:" block.
func printDeletedVolumes(e *env, names []string) {
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(e.out, "Deleted Volumes:")
	for _, n := range names {
		fmt.Fprintln(e.out, n)
	}
	fmt.Fprintln(e.out)
}
