// Package buildkit is the BuildKit side of hoist's Engine API: the /grpc
// and /session endpoints through which docker's buildx (the "docker"
// driver, behind `docker build` since docker CLI 23 whenever the buildx
// plugin is installed) and compose build drive the builder, as they
// drive dockerd's embedded BuildKit.
//
// It owns the wire of that protocol, typed with BuildKit's own Go module:
//   - POST /grpc, upgraded to h2c, carries BuildKit's control service
//     (moby.buildkit.v1.Control: Solve, Status, ListWorkers, Info) and
//     its gateway service (moby.buildkit.v1.frontend.LLBBridge: Ping,
//     Solve, Return, Warn, Inputs), which buildx's client uses to ask
//     for a Dockerfile build (frontend "dockerfile.v0") and to hand its
//     result back for export;
//   - POST /session, upgraded to h2c, is the client's session (a gRPC
//     server on the client's side: BuildKit's session manager): the
//     build context and the Dockerfile come from it (filesync), mirrored
//     into directories of the root kept between builds (the engine's
//     RemoteContext), so a rebuild receives only what changed;
//   - progress: the builder's events (internal/builder/progress) become
//     BuildKit's status stream (vertices, logs, warnings), which buildx
//     renders itself; the image exporter's result is the image ID
//     (containerimage.digest) and its names (the build's tags); the local
//     and tar exporters send the files to the client's session.
//
// What BuildKit does and hoist's builder does not is refused with a gRPC
// error naming it: LLB definitions and other frontends, named contexts,
// subrequests (--call, --check), the oci and docker exporters,
// multi-platform builds.
//
// Rules: every build is an engine use case (engine.Build with a
// RemoteContext); nothing is stored here; a build lives in memory only
// while its client's Solve runs.
package buildkit
