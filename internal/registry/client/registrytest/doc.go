// Package registrytest starts a real registry:2 (Debian's docker-registry,
// distribution 2.8) on 127.0.0.1 for interop tests of the registry client
// and of the pull/push verbs. It owns only the temporary directories of the
// registries it starts (storage, config, htpasswd), removed by t.Cleanup.
package registrytest
