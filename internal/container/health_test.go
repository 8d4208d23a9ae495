package container

import (
	"slices"
	"testing"
	"time"
)

func TestMergeHealth(t *testing.T) {
	img := &HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Retries: 5}
	if got := mergeHealth(img, nil); got != img {
		t.Fatalf("no user settings: %+v", got)
	}
	got := mergeHealth(img, &HealthConfig{Interval: time.Second})
	if !slices.Equal(got.Test, img.Test) || got.Interval != time.Second || got.Retries != 5 {
		t.Fatalf("user interval over the image's check: %+v", got)
	}
	if got := mergeHealth(img, &HealthConfig{Test: []string{"NONE"}}); probeArgs(got) != nil || got.Interval != 0 {
		t.Fatalf("NONE still probes, or keeps the image's settings: %+v", got)
	}
	if got := mergeHealth(nil, &HealthConfig{Interval: time.Second}); got != nil {
		t.Fatalf("settings without a test: %+v", got)
	}
	if a := probeArgs(&HealthConfig{Test: []string{"CMD-SHELL", "curl -f x || exit 1"}}); !slices.Equal(a, []string{"/bin/sh", "-c", "curl -f x || exit 1"}) {
		t.Fatalf("CMD-SHELL: %v", a)
	}
}
