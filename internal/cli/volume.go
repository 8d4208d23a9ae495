package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/container/volume"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
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
			var lm map[string]string
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if lm == nil {
					lm = map[string]string{}
				}
				lm[k] = v
			}
			vs, _, err := e.volumes()
			if err != nil {
				return err
			}
			n, created, err := vs.Create(name, lm, container.NewVolumeName)
			if err != nil {
				return &shapedErr{err: err, daemon: true}
			}
			if created {
				e.events().Record("volume", "create", n, map[string]string{"driver": "local"})
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
			keep, err := volumeFilter(filters)
			if err != nil {
				return &shapedErr{err: err, daemon: true}
			}
			vs, users, err := e.volumes()
			if err != nil {
				return err
			}
			var rows []any
			for _, v := range vs.List(users) {
				if !keep(v) {
					continue
				}
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

// volumeFilter builds `volume ls -f` (dangling=, name=, driver=, label=).
func volumeFilter(filters []string) (func(volume.Volume) bool, error) {
	var tests []func(volume.Volume) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.InvalidArgumentf("Bad format of filter (expected name=value)")
		}
		switch k {
		case "dangling":
			var want bool
			switch strings.ToLower(v) {
			case "true", "1":
				want = true
			case "false", "0":
			default:
				return nil, errdefs.InvalidArgumentf("Invalid filter 'dangling=%s'", v)
			}
			tests = append(tests, func(vol volume.Volume) bool { return (len(vol.UsedBy) == 0) == want })
		case "name":
			tests = append(tests, func(vol volume.Volume) bool { return strings.Contains(vol.Name, v) })
		case "driver":
			tests = append(tests, func(volume.Volume) bool { return v == "local" })
		case "label":
			tests = append(tests, func(vol volume.Volume) bool { return images.LabelMatches(vol.Labels, v) })
		default:
			return nil, errdefs.InvalidArgumentf("Invalid filter '%s'", k)
		}
	}
	return func(vol volume.Volume) bool {
		for _, t := range tests {
			if !t(vol) {
				return false
			}
		}
		return true
	}, nil
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
			vs, users, err := e.volumes()
			if err != nil {
				return err
			}
			var items []any
			var missing []error
			for _, name := range args {
				v, err := vs.Get(name, users)
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
			vs, users, err := e.volumes()
			if err != nil {
				return err
			}
			return eachContainer(e, args, func(name string) error {
				_, gone := vs.Get(name, users)
				if err := vs.Delete(name, force, users); err != nil {
					return err
				}
				if gone == nil {
					e.events().Record("volume", "destroy", name, map[string]string{"driver": "local"})
				}
				return nil
			})
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
			vs, users, err := e.volumes()
			if err != nil {
				return err
			}
			removed, reclaimed := vs.Prune(users)
			for _, name := range removed {
				e.events().Record("volume", "destroy", name, map[string]string{"driver": "local"})
			}
			printDeletedVolumes(e, removed)
			fmt.Fprintln(e.out, "Total reclaimed space:", units.HumanSize(reclaimed, 3))
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return c
}

// volumes opens the volume store with its users (the container records).
func (e *env) volumes() (volume.Store, volume.Users, error) {
	m, err := e.containers()
	if err != nil {
		return volume.Store{}, nil, err
	}
	return m.Volumes()
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
