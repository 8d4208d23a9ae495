// Package credentials reads and writes registry credentials where docker
// keeps them, so that `docker login` and `hoist login` share them.
//
// It owns no files of its own; it edits the docker client config file
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json):
//
//	{
//	  "auths":       {"<server>": {"auth": base64("user:password"), "identitytoken": "..."}},
//	  "credsStore":  "<helper>",              // default helper for every server
//	  "credHelpers": {"<host>": "<helper>"}  // per-registry helpers
//	}
//
// Docker Hub is keyed "https://index.docker.io/v1/" as docker writes it; other
// registries by host[:port]. When a helper is configured the secret goes to
// the `docker-credential-<helper>` program (get/store/erase protocol over
// stdin/stdout) and the file keeps an empty "auths" entry as docker does.
// The file is rewritten atomically (temp file, fsync, rename) with mode 0600,
// keeping every field this package does not know.
package credentials
