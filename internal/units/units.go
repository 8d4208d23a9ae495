// Package units parses docker's size strings. It is shared by the CLI flags
// (-m, --shm-size) and the Dockerfile's RUN --mount size= option.
package units

import (
	"strconv"
	"strings"

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
