package container

import (
	"context"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/container/attach"
)

// BenchmarkRunRm is `hoist run --rm --network none busybox true` without the
// CLI process: create, start through a monitor, wait, auto-remove.
func BenchmarkRunRm(b *testing.B) { benchRunRm(b, "none") }

// BenchmarkRunRmBridge is the same on the default network (slirp4netns).
func BenchmarkRunRmBridge(b *testing.B) { benchRunRm(b, "bridge") }

func benchRunRm(b *testing.B, benchNet string) {
	needRuntimeB(b)
	root := b.TempDir()
	b.Cleanup(func() {
		for i := 0; i < 500 && monitorsOf(root); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	m, err := New(root, Options{Images: fixedImages{"busybox:latest": benchImage(b)}, Self: selfCmd(), SelfEnv: []string{"HOIST_TEST_SELF=monitor"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		c, err := m.Create(ctx, CreateOptions{Image: "busybox:latest", Config: Config{Cmd: []string{"true"}}, HostConfig: HostConfig{NetworkMode: benchNet, AutoRemove: true}})
		if err != nil {
			b.Fatal(err)
		}
		if code, err := m.Start(ctx, c.ID, StartOptions{Streams: &attach.Streams{}}); err != nil || code != 0 {
			b.Fatal(code, err)
		}
	}
}
