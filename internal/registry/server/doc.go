// Package server is hoist's built-in OCI registry: New(store, opts...)
// returns an http.Handler speaking the OCI distribution-spec 1.1 API over a
// storage.Store (package storage owns the on-disk layout), and Run/Serve
// run it as `hoist registry serve` does (TLS, graceful shutdown, periodic
// GC and upload purging).
//
// Endpoints:
//
//	GET  /v2/                                         API check (200)
//	GET  /v2/_catalog?n=&last=                        repositories the caller may read (n capped at 1000)
//	GET  /v2/<name>/tags/list?n=&last=                tags, with a Link header when more follow
//	GET|HEAD|PUT|DELETE /v2/<name>/manifests/<ref>    by tag or digest; PUT by digest takes ?tag= (OCI-Tag)
//	GET|HEAD|DELETE /v2/<name>/blobs/<digest>         Range supported (http.ServeContent, sendfile)
//	POST /v2/<name>/blobs/uploads/                    session, ?digest= (monolithic), ?digest-algorithm=,
//	                                                  ?mount=<digest>[&from=<repo>] (cross-repo / anonymous mount)
//	GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<id> status, chunk (Content-Range; 416 out of order),
//	                                                  finish (?digest=), cancel
//	GET  /v2/<name>/referrers/<digest>?artifactType=  referrers index (OCI-Filters-Applied)
//	GET  /v1/search?q=&n=&page=                       Docker Hub-shaped search over names and descriptions
//	GET|PUT|DELETE /v1/repositories/<name>/star       stars, one per user
//	GET  /metrics                                     Prometheus text
//	GET  /healthz                                     liveness (the only endpoint open without credentials)
//
// Limits: upload sessions hold no descriptor between requests; open
// sessions are capped per repository and per client (the authenticated
// user, else the remote IP address) with 429 TOOMANYREQUESTS, and expire
// when idle (Config.UploadMaxAge, default 1h); the http.Server has
// read-header and idle timeouts; manifest bodies are limited to 4 MiB.
//
// Errors are answered from the one table in errors.go (code, status,
// message); storage errors carry errdefs classes and are translated there by
// classify. Authentication is htpasswd (bcrypt) basic auth with per-repository
// access rules (auth.go; "anonymous" in a read list opens pulls without
// credentials; in token mode _catalog needs the registry:catalog:* scope) or the Docker token flow (token.go; the realm URL
// is configured or derived from the listening socket, never from the Host
// header); a caller who may not read a repository gets DENIED
// whether or not the thing asked for exists, and a mount from such a
// repository silently becomes an upload session.
package server
