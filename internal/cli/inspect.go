package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// inspector looks up one kind of object by name or ID for `inspect`.
// It returns an errdefs.NotFound error when it has no such object.
type inspector struct {
	kind string // "image", later "container"
	get  func(ctx context.Context, ref string) (any, error)
}

// inspectors are tried in order by the top-level `inspect` (docker looks
// containers up first). With size, containers get docker's SizeRw and
// SizeRootFs (-s).
func (e *env) inspectors(size bool) []inspector {
	return []inspector{
		{kind: "container", get: func(ctx context.Context, ref string) (any, error) {
			return e.engine().InspectContainer(ctx, ref, size)
		}},
		{kind: "image", get: func(ctx context.Context, ref string) (any, error) {
			return e.engine().InspectImage(ctx, ref)
		}},
	}
}

// inspectAll looks each ref up with the inspectors of kind (all when
// empty), renders the found ones, and prints docker's line for each missing
// one (exit status 1).
func (e *env) inspectAll(ctx context.Context, refs []string, kind, format string, size bool) error {
	var items []any
	var errs []string
	inspectors := e.inspectors(size)
	for _, ref := range refs {
		var found any
		var lastErr error
		for _, in := range inspectors {
			if kind != "" && in.kind != kind {
				continue
			}
			v, err := in.get(ctx, ref)
			if err == nil {
				found = v
				break
			}
			if !errdefs.IsNotFound(err) {
				lastErr = err
				break
			}
		}
		switch {
		case found != nil:
			items = append(items, found)
		case lastErr != nil:
			errs = append(errs, "Error: "+lastErr.Error())
		default:
			errs = append(errs, notFoundLine(kind, ref))
		}
	}
	if err := renderInspect(e.out, format, items); err != nil {
		return err
	}
	for _, line := range errs {
		fmt.Fprintln(e.errOut, line)
	}
	if len(errs) > 0 {
		return &StatusError{Code: 1}
	}
	return nil
}

// notFoundLine is docker's line for a ref that inspect of kind ("" for any)
// did not find.
func notFoundLine(kind, ref string) string {
	switch kind {
	case "container":
		return "Error response from daemon: No such container: " + ref
	case "image":
		name := ref
		if n, err := engine.NormalizeName(ref); err == nil {
			name = engine.Familiar(n)
		}
		return "Error response from daemon: no such image: " + ref + ": No such image: " + name
	}
	return "Error: No such object: " + ref
}

func newImageInspectCmd(e *env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.inspectAll(cmd.Context(), args, "image", format, false)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json', 'TEMPLATE'")
	return cmd
}

// newInspectCmd is the top-level `inspect`: any object kind, or --type.
func newInspectCmd(e *env) *cobra.Command {
	var format, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on hoist objects",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			known := false
			for _, in := range e.inspectors(false) {
				known = known || in.kind == typ
			}
			if typ != "" && !known {
				return &flagError{cmd: cmd.CommandPath(), err: fmt.Errorf("%q is not a valid value for --type", typ)}
			}
			return e.inspectAll(cmd.Context(), args, typ, format, size)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json', 'TEMPLATE'")
	cmd.Flags().StringVar(&typ, "type", "", "Return JSON for specified type")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}
