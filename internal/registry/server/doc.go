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
//	GET|HEAD|DELETE /v2/<name>/blobs/<digest>         Range supported (http.ServeContent: the bare *os.File,
//	                                                  sendfile; S3 bodies in 1 MiB pieces); GET is a 307 to a
//	                                                  presigned URL on S3 with redirect on; HEAD is a stat
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
//
// Pull-through cache (proxy.go; WithProxy, Config.Proxy with
// distribution's proxy keys remoteurl, username, password, ttl, plus
// remotes and allow_push): a manifest or blob GET the store cannot answer
// is fetched from the repository's upstream through package client (auth
// challenges, retries, digest checks) and stored before it is served, so
// a blob whose bytes do not hash to its digest is answered 502 and nothing
// of it is kept (the store commits blobs only once verified); an upstream
// that cannot be reached is a 502 naming it and the failure. Several
// upstreams by host: repository <host>/<path> of the cache is <path> at
// remotes[<host>] (--proxy-remote HOST=URL; podman's and CRI-O's
// prefix mirrors), containerd's ?ns=<host> names the host too, and every
// other name is itself at remoteurl, the default upstream (docker's
// registry-mirrors send Docker Hub names unprefixed). Manifests are stored
// with PutOptions.Cached (their blobs arrive when first pulled). A tag is
// served from the store while it was written less than the TTL ago, then
// the upstream is asked (HEAD): the same digest rewrites the tag (its TTL
// starts again), another is fetched and tagged, and an upstream that
// cannot answer leaves the cached tag served (a warning is logged). A
// blob the store holds for another repository is linked once the upstream
// confirms (HEAD) that this repository has it; a HEAD of a blob not cached
// yet is answered from the upstream's HEAD without storing. Fetches are
// detached from the request (a client that gives up does not cancel them)
// and one fetch of a thing runs at a time per process (singleflight);
// replicas may fetch the same thing twice, harmlessly. Pushes and deletes
// to a repository an upstream serves are refused with registry:2's 405
// UNSUPPORTED "The operation is unsupported." (docker push prints it); a
// name no upstream serves is NAME_UNKNOWN, or with allow_push a local
// repository that takes pushes. Stars stay local. Tag lists, the catalog
// and referrers answer what the cache holds.
package server
