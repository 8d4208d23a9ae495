package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Patience bounds every wait: a condition not met by then fails the test
// (it is a hang, not a slow machine).
const Patience = 60 * time.Second

// WaitFor polls cond until it holds, failing t with what if it does not
// within Patience.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(Patience); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", Patience, what)
		}
	}
}

// OpenAtEnd reports whether this process holds path open with its offset
// at the file's end: a follower that reads every line written from now on.
func OpenAtEnd(path string) bool {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err != nil || l != path {
			continue
		}
		info, _ := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if strings.Contains(string(info), fmt.Sprintf("pos:\t%d\n", fi.Size())) {
			return true
		}
	}
	return false
}
