// Package units parses and prints docker's size strings. ParseBytes is
// shared by the CLI flags (-m, --shm-size) and the Dockerfile's RUN --mount
// size= option; HumanSize and BytesSize print sizes as docker's tables,
// progress bars, info and stats do; HumanDuration prints the durations of
// its CREATED and STATUS columns.
package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// ParseBytes parses a binary byte size as docker does: 1024, 512k, 64m, 1g,
// 2t, with an optional b / ib suffix (64mb, 1GiB), case-insensitive,
// fractions allowed (1.5g). Errors are errdefs.ErrInvalidArgument.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, errdefs.InvalidArgumentf("invalid size: '%s'", s)
	}
	return int64(f * float64(mult)), nil
}

var (
	decimalUnits = []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	binaryUnits  = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
)

// HumanSize renders n bytes in decimal units with prec significant digits,
// as docker does ("4.26MB", "120kB", "0B"): 3 digits in its tables, 4 in
// its progress bars and df totals.
func HumanSize(n int64, prec int) string { return format(float64(n), prec, 1000, decimalUnits) }

// BytesSize renders n bytes in binary units with 4 significant digits, as
// docker's info and stats do ("1.944GiB").
func BytesSize(n int64) string { return format(float64(n), 4, 1024, binaryUnits) }

func format(size float64, prec int, base float64, units []string) string {
	i := 0
	for size >= base && i < len(units)-1 {
		size /= base
		i++
	}
	return fmt.Sprintf("%.*g%s", prec, size, units[i])
}

// HumanDuration renders a duration the way docker's "CREATED" and
// "STATUS" columns do ("About a minute", "3 days").
func HumanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	switch m := int(d.Minutes()); {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	switch h := int(d.Hours() + 0.5); {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}
