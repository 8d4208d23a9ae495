// Package runmount makes the mounts of a RUN step from its --mount flags,
// as BuildKit does: tmpfs; cache (a persistent directory per id, else per
// target, created with the mount's mode and owner); secret (a private copy
// of the --secret file with the mount's mode, default 0400, and owner,
// default root, at /run/secrets/<id> unless target= is given; env= also
// exposes it as a variable, SecretEnv); bind of the build context or of a
// stage's or image's tree (read-only, or a private copy for rw, whose
// writes are discarded). Script mounts a heredoc script at /dev/pipes.
// Nothing is bound from outside its source: bind sources are resolved
// inside it (securejoin).
//
// # On-disk layout
//
//	Env.CacheDir/<id>/      a cache mount (<root>/build/cache; "/" "\" ".." in id become "_" "_" "__")
//	Env.TmpDir/secret-*/    a secret's private copy, removed after the step
//	Env.TmpDir/bind-*/m     a rw bind mount's private copy, removed after the step
//	Env.TmpDir/heredoc-*/   a heredoc script, removed after the step
package runmount
