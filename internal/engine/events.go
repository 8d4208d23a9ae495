package engine

import (
	"context"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/events"
	"github.com/hoistproject/hoist/internal/images"
)

// Event is one recorded event (docker's events message).
type Event = events.Event

// EventsOptions are the options of Events.
type EventsOptions struct {
	// Since and Until are docker's timestamps (RFC 3339, Unix seconds
	// or a duration before now); "" is none: no past events, no end.
	Since, Until string
	// Filters are docker's events filters, KEY=VALUE.
	Filters []string
}

// Events calls fn with each event o selects: the recorded ones since
// o.Since, then the new ones as they are recorded, until o.Until or ctx
// ends.
func (e *Engine) Events(ctx context.Context, o EventsOptions, fn func(Event)) error {
	now := time.Now()
	var from, to time.Time
	var err error
	if o.Since != "" {
		if from, err = images.ParseTimestamp(o.Since, now); err != nil {
			return errdefs.InvalidArgumentf("invalid value for \"since\": %v", err)
		}
	}
	if o.Until != "" {
		if to, err = images.ParseTimestamp(o.Until, now); err != nil {
			return errdefs.InvalidArgumentf("invalid value for \"until\": %v", err)
		}
	}
	match, err := eventFilter(o.Filters)
	if err != nil {
		return err
	}
	show := func(ev Event) {
		if match(ev) {
			fn(ev)
		}
	}
	if o.Since != "" {
		if err := e.events.Read(from, to, show); err != nil {
			return err
		}
	}
	if !to.IsZero() && !to.After(now) {
		return nil // all in the past: nothing to follow
	}
	return e.events.Follow(ctx, to, show)
}

// eventFilter builds `events -f`: type=, event=, container=, image=,
// volume=, label=K[=V]; values of one key are alternatives, keys all apply.
func eventFilter(filters []string) (func(events.Event) bool, error) {
	byKey, err := filterValues(filters, "bad format of filter (expected name=value)", func(k, _ string) error {
		switch k {
		case "type", "event", "container", "image", "volume", "label":
			return nil
		}
		return errdefs.InvalidArgumentf("Invalid filter '%s'", k)
	})
	if err != nil {
		return nil, err
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
