package cli

import (
	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/events"
	"github.com/hoistproject/hoist/internal/images"
)

// imageStore opens the image store of the root given by --root.
func (e *env) imageStore() (*images.Store, error) {
	s, err := images.Open(e.g.Root)
	if err != nil {
		return nil, err
	}
	m, err := container.New(e.g.Root, container.Options{Logger: e.logger()})
	if err != nil {
		return nil, err
	}
	s.SetContainers(containerUsers{m})
	return s, nil
}

// events is the event log of the root given by --root.
func (e *env) events() *events.Log { return events.New(e.g.Root) }
