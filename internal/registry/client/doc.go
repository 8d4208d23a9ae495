// Package client is hoist's registry client: the remote side of pull, push,
// login and search, speaking the OCI distribution API (/v2/) and Docker
// Hub's search API (/v1/search).
//
// A Client holds the transport (HTTPS with the system CAs plus per-registry
// CAs and client certificates from certs.d directories; plain HTTP only for
// loopback registries and those listed in "insecure-registries"; retries
// with backoff for idempotent requests; proxies from the environment:
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY or their lower-case forms, read once
// per process by net/http, loopback registries never proxied, as docker) and
// one auth.Authorizer per registry host. A Repository is one remote
// repository behind the same shapes as the local stores: it is a
// content.Provider and content.InfoProvider for blobs (reads verify digest
// and size while streaming and resume with Range requests) and a
// content.Ingester (uploads are chunked and resume from the registry's
// upload status), so pull and push are copies between two implementations.
//
// Files read (never written): hoist's config file ($HOIST_CONFIG, else
// /etc/hoist/config.json):
//
//	{"insecure-registries": ["host:port", "10.0.0.0/8"],
//	 "registry-mirrors": ["https://mirror.example"],
//	 "default-registry": "registry.example"}
//
// and certs.d directories (/etc/hoist/certs.d, /etc/docker/certs.d):
//
//	<dir>/<host[:port]>/*.crt            extra CA certificates for that registry
//	<dir>/<host[:port]>/NAME.cert + NAME.key   a client certificate
//
// Credentials come from the caller (see package credentials).
package client
