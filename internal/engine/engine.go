package engine

import (
	"log/slog"
	"sync"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/events"
	"github.com/hoistproject/hoist/internal/images"
)

// Options configure an engine.
type Options struct {
	// Root is the hoist root directory (absolute).
	Root string
	// Logger receives debug output; nil discards.
	Logger *slog.Logger
	// Config is the directory of docker's config.json (registry
	// credentials); "" for $DOCKER_CONFIG or ~/.docker.
	Config string
	// UserAgent is sent to registries.
	UserAgent string
	// Version is hoist's release (info's ServerVersion).
	Version string
	// Storage and Runtime are the container manager's (container.Options).
	Storage, Runtime string
	// Images resolves the images that containers are created from; nil
	// for the root's image store, whose missing images CreateContainer
	// pulls. Tests give a fake, whose failures are returned as they are.
	Images container.ImageResolver
}

// Engine is hoist's application layer over one root: it opens the stores
// once (on first use) and runs the use cases, recording their events.
// It is safe for concurrent use.
type Engine struct {
	o      Options
	events *events.Log

	imgOnce sync.Once
	img     *images.Store
	imgErr  error

	ctrOnce sync.Once
	ctr     *container.Manager
	ctrErr  error
}

// New is the engine of o.Root. Nothing is opened until a use case needs it.
func New(o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{o: o, events: events.New(o.Root)}
}

// Root is the hoist root directory.
func (e *Engine) Root() string { return e.o.Root }

// Logger is the engine's logger.
func (e *Engine) Logger() *slog.Logger { return e.o.Logger }

// images is the root's image store; the container manager tells it which
// images and layers containers use.
func (e *Engine) images() (*images.Store, error) {
	e.imgOnce.Do(func() {
		s, err := images.Open(e.o.Root)
		if err != nil {
			e.imgErr = err
			return
		}
		m, err := e.containers()
		if err != nil {
			e.imgErr = err
			return
		}
		s.SetContainers(containerUsers{m})
		e.img = s
	})
	return e.img, e.imgErr
}

// containers is the root's container manager; it creates containers from
// the images of Options.Images (the image store when nil).
func (e *Engine) containers() (*container.Manager, error) {
	e.ctrOnce.Do(func() {
		var imgs container.ImageResolver = storeImages{e}
		if e.o.Images != nil {
			imgs = e.o.Images
		}
		e.ctr, e.ctrErr = container.New(e.o.Root, container.Options{Images: imgs, Logger: e.o.Logger,
			Storage: e.o.Storage, Runtime: e.o.Runtime, Events: e.events})
	})
	return e.ctr, e.ctrErr
}

// OpenContainers opens the root's container store (and its image store
// when a container is created from it), so that a front-end can report a
// root it cannot use before it does anything else (run and create exit
// with 125 then, as docker does).
func (e *Engine) OpenContainers() error {
	_, err := e.containers()
	return err
}
