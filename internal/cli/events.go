package cli

import (
	"fmt"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
)

// newEventsCmd is docker's `events`: the events recorded since --since
// (none without it), then the new ones as they happen, until --until or
// an interrupt.
func newEventsCmd(e *env) *cobra.Command {
	var since, until, format string
	var filters []string
	c := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from hoist",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var failed error
			show := func(ev engine.Event) {
				if failed != nil {
					return
				}
				if format == "" {
					fmt.Fprintln(e.out, eventLine(ev))
					return
				}
				failed = renderInspect(e.out, format, []any{ev})
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if err := e.engine().Events(ctx, engine.EventsOptions{Since: since, Until: until, Filters: filters}, show); err != nil {
				return err
			}
			return failed
		},
	}
	c.Flags().StringVar(&since, "since", "", "Show all events created since timestamp")
	c.Flags().StringVar(&until, "until", "", "Stream events until this timestamp")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	c.Flags().StringVar(&format, "format", "", "Format the output using the given Go template")
	return c
}

// eventLine is docker's default line: time, type, action, actor and its
// attributes (sorted).
func eventLine(ev engine.Event) string {
	var attrs []string
	for k, v := range ev.Actor.Attributes {
		attrs = append(attrs, k+"="+v)
	}
	sort.Strings(attrs)
	line := time.Unix(0, ev.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00") + " " + ev.Type + " " + ev.Action + " " + ev.Actor.ID
	if len(attrs) > 0 {
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	return line
}
