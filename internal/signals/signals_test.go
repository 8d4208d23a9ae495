package signals

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]int{
		"SIGTERM": 15, "term": 15, "KILL": 9, "sigkill": 9, "9": 9, "64": 64, "hup": 1, "USR1": 10,
		"SIGRTMIN": 34, "SIGRTMIN+3": 37, "rtmin+15": 49, "RTMAX-2": 62, "SIGRTMAX": 64, "CLD": 17, "IOT": 6, "POLL": 29,
	} {
		if got, ok := Parse(in); !ok || int(got) != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "0", "65", "-1", "SIGNOPE", "NOPE", "SIGRTMIN+16", "RTMIN-1", "SIG"} {
		if got, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) accepted: %d", bad, got)
		}
	}
}
