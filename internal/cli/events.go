package cli

import (
	"fmt"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/events"
	"github.com/hoistproject/hoist/internal/images"
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
			now := time.Now()
			var from, to time.Time
			var err error
			if since != "" {
				if from, err = images.ParseTimestamp(since, now); err != nil {
					return errdefs.InvalidArgumentf("invalid value for \"since\": %v", err)
				}
			}
			if until != "" {
				if to, err = images.ParseTimestamp(until, now); err != nil {
					return errdefs.InvalidArgumentf("invalid value for \"until\": %v", err)
				}
			}
			match, err := eventFilter(filters)
			if err != nil {
				return err
			}
			var failed error
			show := func(ev events.Event) {
				if failed != nil || !match(ev) {
					return
				}
				if format == "" {
					fmt.Fprintln(e.out, eventLine(ev))
					return
				}
				failed = renderInspect(e.out, format, []any{ev})
			}
			log := e.events()
			if since != "" {
				if err := log.Read(from, to, show); err != nil {
					return err
				}
			}
			if !to.IsZero() && !to.After(now) {
				return failed // all in the past: nothing to follow
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if err := log.Follow(ctx, to, show); err != nil {
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
func eventLine(ev events.Event) string {
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

// eventFilter builds `events -f`: type=, event=, container=, image=,
// volume=, label=K[=V]; values of one key are alternatives, keys all apply.
func eventFilter(filters []string) (func(events.Event) bool, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.InvalidArgumentf("bad format of filter (expected name=value)")
		}
		switch k {
		case "type", "event", "container", "image", "volume", "label":
		default:
			return nil, errdefs.InvalidArgumentf("Invalid filter '%s'", k)
		}
		byKey[k] = append(byKey[k], v)
	}
	one := func(ev events.Event, k, v string) bool {
		a := ev.Actor.Attributes
		switch k {
		case "type":
			return ev.Type == v
		case "event":
			return ev.Action == v
		case "container", "volume":
			return ev.Type == k && (ev.Actor.ID == v || strings.HasPrefix(ev.Actor.ID, v) || a["name"] == v)
		case "image":
			return (ev.Type == "image" && (ev.Actor.ID == v || a["name"] == v)) || (ev.Type == "container" && a["image"] == v)
		default: // label
			return images.LabelMatches(a, v)
		}
	}
	return matchAll(byKey, one), nil
}
