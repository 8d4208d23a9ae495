package images

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// commit/import -c EXPOSE reads its words as the Dockerfile's EXPOSE does
// (dockerfile.ExposedPorts): host parts dropped, protocols lower-cased,
// ranges expanded, docker's messages for bad words.
func TestApplyChangesExposeAsDockerfile(t *testing.T) {
	var c ContainerConfig
	if err := ApplyChanges(&c, []string{"EXPOSE 0.0.0.0:8080:90 53/UDP 8000-8001"}); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(c.ExposedPorts)); !slices.Equal(got, []string{"53/udp", "8000/tcp", "8001/tcp", "90/tcp"}) {
		t.Fatalf("ExposedPorts: %v", got)
	}
	for bad, msg := range map[string]string{"EXPOSE x": "invalid containerPort: x", "EXPOSE 80/icmp": "invalid proto: icmp"} {
		if err := ApplyChanges(&c, []string{bad}); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
