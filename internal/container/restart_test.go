package container

import (
	"testing"
	"time"
)

func TestBackoffIsDockers(t *testing.T) {
	var b backoff
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200}
	for i, w := range want {
		if got := b.next(time.Second); got != w*time.Millisecond {
			t.Fatalf("delay %d: %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := b.next(time.Second); got != time.Minute {
		t.Fatalf("capped delay: %v", got)
	}
	if got := b.next(time.Second); got != time.Minute {
		t.Fatalf("capped delay again: %v", got)
	}
	if got := b.next(10 * time.Second); got != 100*time.Millisecond {
		t.Fatalf("after a 10 s run: %v", got)
	}
}

func TestShouldRestart(t *testing.T) {
	for _, c := range []struct {
		p        RestartPolicy
		code     int
		stopped  bool
		restarts int
		want     bool
	}{
		{RestartPolicy{Name: "no"}, 1, false, 0, false},
		{RestartPolicy{}, 1, false, 0, false},
		{RestartPolicy{Name: "always"}, 0, true, 5, true},
		{RestartPolicy{Name: "unless-stopped"}, 0, false, 0, true},
		{RestartPolicy{Name: "unless-stopped"}, 1, true, 0, false},
		{RestartPolicy{Name: "on-failure"}, 0, false, 0, false},
		{RestartPolicy{Name: "on-failure"}, 1, false, 100, true},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, 1, false, 1, true},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, 1, false, 2, false},
	} {
		if got := c.p.shouldRestart(c.code, c.stopped, c.restarts); got != c.want {
			t.Errorf("%+v code %d stopped %v restarts %d: %v", c.p, c.code, c.stopped, c.restarts, got)
		}
	}
}

func TestParseRestartPolicy(t *testing.T) {
	for s, want := range map[string]RestartPolicy{
		"no": {Name: "no"}, "always": {Name: "always"}, "on-failure:3": {Name: "on-failure", MaximumRetryCount: 3},
		"unless-stopped": {Name: "unless-stopped"},
	} {
		p, err := ParseRestartPolicy(s)
		if err != nil || p != want || p.Validate() != nil {
			t.Errorf("%s: %+v %v", s, p, err)
		}
	}
	for _, s := range []string{"on-failure:x", "on-failure:1:2"} {
		if _, err := ParseRestartPolicy(s); err == nil {
			t.Errorf("%s parsed", s)
		}
	}
}
