// Package apiserver is hoist's Docker Engine API: an HTTP front-end over
// the application layer (internal/engine), as internal/cli is the command
// line's, so that docker's own CLI, compose, the SDKs and testcontainers
// drive hoist over a socket (`hoist serve`, `hoist system service`).
//
// It owns the wire: docker's paths, query parameters, JSON bodies and
// stream formats, all of them typed with the Engine API's own Go module
// (github.com/moby/moby/api/types); version negotiation (/_ping's headers,
// /vX.Y/ prefixes from MinAPIVersion to MaxAPIVersion, docker's "client
// version X is too new" refusal); errors as {"message": ...} with docker's
// status codes, mapped from hoist's error kinds in one place (errors.go);
// hijacked connections (attach, exec start) with raw streams for a TTY and
// docker's multiplexed frames otherwise, their output held until a client
// on a unix socket has read the answer's head (docker-py reads the stream
// from the socket itself, past its HTTP parser's buffer); boolean query
// parameters read as dockerd reads them (docker-py's "False" is false);
// streamed JSON errors in errorDetail and in the older "error" field
// (docker-py and dockerode look there); and the listeners (unix socket
// 0660 root:docker, or root:hoist; TCP on loopback, or anywhere with
// mutual TLS; systemd's sockets). JSON bodies are bounded (maxJSONBody,
// 8 MiB: dockerd has no bound); build, load and import bodies are streams
// the engine consumes as they come, and a client that goes away cancels
// the request's context (the engine's writes are all-or-nothing).
// BuildKit's /grpc and /session (buildx's docker driver) are answered by
// the subpackage buildkit.
//
// Rules:
//   - each handler is thin: read the request, call one engine use case,
//     encode its answer; what a handler needs that the engine lacks is a
//     new engine use case, never a store opened here;
//   - the server keeps nothing of its own: containers, images and volumes
//     are the root's, shared with every hoist command and its locks;
//     killing the server touches no container. What lives only in the
//     process is what docker's daemon keeps in memory too: exec instances
//     (create, start, inspect) and attach connections waiting for their
//     container's start;
//   - the server is never a child subreaper (an exec -it's process is
//     waited for by an exec monitor, a child process of its own; package
//     container): a process orphaned below it goes to init, not to it, so
//     its only children are the commands it starts and waits for, and no
//     zombie accumulates however long it serves;
//   - registry credentials arrive per request (X-Registry-Auth) and are
//     neither logged nor stored.
package apiserver
