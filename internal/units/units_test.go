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

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 4_261_550: "4.26MB", 7_950_000: "7.95MB", 1_234_567_890: "1.23GB", 120_000: "120kB"} {
		if got := HumanSize(n, 3); got != want {
			t.Errorf("HumanSize(%d, 3) = %q, want %q", n, got, want)
		}
	}
	if got := HumanSize(4_261_550, 4); got != "4.262MB" {
		t.Errorf("HumanSize(4261550, 4) = %q", got)
	}
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1KiB", 2_087_354_368: "1.944GiB", 3 << 40: "3TiB"} {
		if got := BytesSize(n); got != want {
			t.Errorf("BytesSize(%d) = %q, want %q", n, got, want)
		}
	}
}
