package client

import (
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Helpers of the internal tests for the external ones (interop_test.go is
// package client_test: it runs the registry server, which imports this
// package through its pull-through cache).

func MustName(t testing.TB, s string) reference.Named { return mustName(t, s) }

func RandBytes(n int) []byte { return randBytes(n) }

func NewLocal(t *testing.T) *content.Local { return newLocal(t) }

// BuildImage writes a two-platform image into st and returns its index and
// arm64 manifest.
func BuildImage(t *testing.T, st content.Store) (index, arm64 ocispec.Descriptor) {
	img := buildImage(t, st)
	return img.index, img.arm64
}
