package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildResourceAndRmFlags: seed 001's build options --memory-swap and
// --cgroup-parent apply to the RUN steps (the step sees its memory+swap
// limit), docker's checks of --memory-swap hold, --force-rm is accepted
// (hoist always removes its step containers) and --rm=false is refused
// clearly rather than ignored.
func TestBuildResourceAndRmFlags(t *testing.T) {
	h, ctx := buildEnv(t)
	df := "FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo $(( $(cat /sys/fs/cgroup/memory.swap.max) + $(cat /sys/fs/cgroup/memory.max) ))\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	_, errOut, code := h.run(nil, "build", "--no-cache", "--progress", "plain", "-m", "64m", "--memory-swap", "128m",
		"--cgroup-parent", "hoist-test-parent", "--force-rm", ctx)
	if code != 0 || !strings.Contains(errOut, " 134217728\n") {
		t.Errorf("build -m 64m --memory-swap 128m: %d, the step did not see a 128 MiB memory+swap limit:\n%s", code, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory-swap", "128m"}, "You should always set the Memory limit when using Memoryswap limit"},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, "Minimum memoryswap limit should be larger than memory limit"},
		{[]string{"--rm=false"}, "--rm=false is not supported"},
	} {
		_, errOut, code := h.run(nil, append(append([]string{"build"}, c.args...), ctx)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("build %v: %d %q, want an error with %q", c.args, code, errOut, c.want)
		}
	}
}
