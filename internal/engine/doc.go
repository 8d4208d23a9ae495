// Package engine is hoist's application layer: what hoist does, one use
// case per method, under every front-end (the CLI in internal/cli; the
// Docker Engine API server next). An Engine opens a root's stores once, on
// first use (image store, container manager, event log), opens registry
// clients (Registry) and runs the use cases: CreateContainer (the image's
// pull policy and platform), Pull, Push, Tags, Load, Save, Import, Build
// (the context from a directory, a URL or a stream), Commit, Tag,
// RemoveImage and PruneImages.
//
// Rules:
//   - context first; progress and status go to the callbacks and writers
//     the caller gives (nil: none); no terminal, no os.Exit, no flags;
//   - every image event (tag, untag, delete, import, load, pull, push) is
//     recorded here, whichever front-end or verb ran the flow; container and
//     volume events are the container manager's;
//   - the engine adapts the stores to each other (images.go: the image
//     store resolves containers' images; the container manager tells the
//     image store which images and layers containers use);
//   - tests give fakes through Options (Options.Images); nothing branches
//     on a test.
//
// deps_test.go holds the dependency rule: internal/cli imports the engine
// and a listed few value and formatting packages; nothing below imports the
// engine or the cli.
package engine
