package cli

import (
	"github.com/hoistproject/hoist/internal/images"
)

// imageStore opens the image store of the root given by --root.
func (e *env) imageStore() (*images.Store, error) {
	return images.Open(e.g.Root)
}
