package container

import (
	"context"
	"testing"
)

// BenchmarkRunRm is `hoist run --rm --network none busybox true` without the
// CLI process: create, start through a monitor, wait, auto-remove.
func BenchmarkRunRm(b *testing.B) {
	needRuntimeB(b)
	m, err := New(b.TempDir(), Options{Images: fixedImages{"busybox:latest": benchImage(b)}, Self: selfCmd(), SelfEnv: []string{"HOIST_TEST_SELF=monitor"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"true"}}, HostConfig: HostConfig{NetworkMode: "none", AutoRemove: true}})
		if err != nil {
			b.Fatal(err)
		}
		if code, err := m.Start(ctx, c.ID, StartOptions{Streams: &Streams{}}); err != nil || code != 0 {
			b.Fatal(code, err)
		}
	}
}
