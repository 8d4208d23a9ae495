// Package engine is hoist's application layer: what hoist does, one use
// case per method, under every front-end (the CLI in internal/cli; the
// Docker Engine API in internal/apiserver). An Engine opens a root's stores once, on
// first use (image store, container manager, event log), opens registry
// clients (Registry) and runs the use cases:
//
//   - images: CreateContainer (the image's pull policy and platform), Pull,
//     Push, Tags, Load, Save, Import, Build (the context from a directory,
//     a URL or a stream), Commit, Tag, RemoveImage, PruneImages,
//     ListImages, History, InspectImage, CheckStore (image.go, build.go,
//     commit.go, create.go, pull.go, imageview.go);
//   - containers: Start, StartCreated, Attach, Stop, Restart, Kill, Pause,
//     Unpause, Wait, WaitCondition (docker's wait conditions), Rename, Update, RemoveContainer, Exec, Export, Diff,
//     Logs, Top, Stats, CopyFrom/CopyTo (tar streams) and
//     CopyToHost/CopyFromHost (cp's host side), InspectContainer,
//     ContainerSize, ContainerImage (ps's IMAGE), PruneContainers,
//     RunMonitor, RestoreContainers (system restore: restart policies
//     after a reboot) (container.go, cp.go, list.go);
//   - the list filters: ListContainers (ps), Volumes (volume ls), Events
//     (events: the recorded ones, then the new ones), ParseFilters (the
//     images and prune filters); a bad filter is a *FilterError (list.go,
//     volume.go, events.go);
//   - volumes: CreateVolume, Volume, RemoveVolume, PruneVolumes
//     (volume.go);
//   - the system: DiskUsage (df), Info, PruneBuildCache (builder prune,
//     BuilderPruneOptions its filters), PruneBuildData (system prune's
//     build part) (system.go);
//   - registries: Login, Logout, Search, Authenticate (checks a login and
//     stores nothing: the API's auth); Pull and Push take a request's own
//     login (Auth) instead of the stored ones; what a registry refused is
//     a *RegistryError (login.go, registry.go).
//
// The values the front-ends pass and get (Container, StartOptions, Image,
// Volume, Event, ...) are the lower packages' types, named here as aliases,
// so that a front-end needs no other package.
//
// Rules:
//   - context first; progress and status go to the callbacks and writers
//     the caller gives (nil: none); no terminal, no os.Exit, no flags;
//   - every image and volume event (tag, untag, delete, import, load, pull,
//     push; volume create and destroy) is recorded here, whichever
//     front-end or verb ran the flow; container events are the container
//     manager's;
//   - the engine adapts the stores to each other (images.go: the image
//     store resolves containers' images; the container manager tells the
//     image store which images and layers containers use);
//   - tests give fakes through Options (Options.Images); nothing branches
//     on a test.
//
// deps_test.go holds the dependency rule: the front-ends (internal/cli,
// internal/apiserver) import the engine and a listed few value and
// formatting packages; nothing below imports the engine or a front-end.
package engine
