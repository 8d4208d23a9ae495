package health

import (
	"slices"
	"sync"
	"testing"
	"time"
)

func TestMerge(t *testing.T) {
	img := &Config{Test: []string{"CMD", "check"}, Interval: time.Minute, Retries: 5}
	if got := Merge(img, nil); got != img {
		t.Fatalf("no user settings: %+v", got)
	}
	got := Merge(img, &Config{Interval: time.Second})
	if !slices.Equal(got.Test, img.Test) || got.Interval != time.Second || got.Retries != 5 {
		t.Fatalf("user interval over the image's check: %+v", got)
	}
	if got := Merge(img, &Config{Test: []string{"NONE"}}); Args(got) != nil || got.Interval != 0 {
		t.Fatalf("NONE still probes, or keeps the image's settings: %+v", got)
	}
	if got := Merge(nil, &Config{Interval: time.Second}); got != nil {
		t.Fatalf("settings without a test: %+v", got)
	}
	if a := Args(&Config{Test: []string{"CMD-SHELL", "curl -f x || exit 1"}}); !slices.Equal(a, []string{"/bin/sh", "-c", "curl -f x || exit 1"}) {
		t.Fatalf("CMD-SHELL: %v", a)
	}
}

// Run's statuses: starting, unhealthy after Retries failures in a row
// (not counting the start period), healthy on a success, five probes kept.
func TestRun(t *testing.T) {
	codes := []int{1, 1, 1, 0, 1, 0, 0}
	var mu sync.Mutex
	var st Status
	var seen []string
	done := make(chan struct{})
	n := 0
	probe := func(args []string, timeout time.Duration) Log {
		mu.Lock()
		defer mu.Unlock()
		c := codes[n]
		n++
		if n == len(codes) {
			close(done)
		}
		return Log{Start: time.Now(), End: time.Now(), ExitCode: c}
	}
	record := func(change func(*Status)) {
		mu.Lock()
		defer mu.Unlock()
		change(&st)
		seen = append(seen, st.Status)
	}
	Run(&Config{Test: []string{"CMD", "x"}, Interval: time.Millisecond, Retries: 2}, time.Now(), done, probe, record)
	want := []string{Starting, Starting, Unhealthy, Unhealthy, Healthy, Healthy, Healthy, Healthy}
	if !slices.Equal(seen, want) {
		t.Fatalf("statuses %v, want %v", seen, want)
	}
	if len(st.Log) != 5 || st.FailingStreak != 0 {
		t.Fatalf("log %d entries, streak %d", len(st.Log), st.FailingStreak)
	}
}
