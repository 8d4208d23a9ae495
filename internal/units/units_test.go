package units

import (
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512k": 512 << 10, "64m": 64 << 20, "1g": 1 << 30,
		"1GiB": 1 << 30, "64MB": 64 << 20, "1.5g": 3 << 29, "2t": 2 << 40, "0": 0} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1m", "12q"} {
		if _, err := ParseBytes(in); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseBytes(%q) accepted: %v", in, err)
		}
	}
}
