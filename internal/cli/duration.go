package cli

import (
	"time"

	"github.com/hoistproject/hoist/internal/units"
)

// createdSince is "<duration> ago", or "N/A" for an unknown time.
func createdSince(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}
