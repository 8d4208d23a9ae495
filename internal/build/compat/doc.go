// Package compat is the builder's compatibility suite (test-only): a corpus
// of Dockerfiles under testdata/<case>/ that `hoist build` must build to the
// same image as `docker build`.
//
// # Layout
//
//	testdata/<case>/Dockerfile     the Dockerfile (passed with -f, outside the context)
//	testdata/<case>/ctx/           the build context (optional; empty when absent);
//	                               files the test generates (archives, modes, links,
//	                               empty dirs, odd names) are added by setupCtx
//	testdata/<case>/case.json      options (optional): see caseSpec in compat_test.go
//	testdata/<case>/expected.json  the golden result: the image config fields the
//	                               suite checks and the file tree's changes
//	                               relative to the base image
//	testdata/<case>/README         why a field or path is excluded, when one is
//
// Each case is built by the hoist binary ($HOIST_BIN, else built once) in its
// own root, and where a docker engine answers, by docker's classic builder
// (or BuildKit when the buildx plugin is present) after `docker load` of the
// same base images, saved by hoist so their IDs match. The saved images are
// flattened (their layers applied in order) into a normalized listing (path,
// type, mode, owner, size, sha256, link target, hardlink group), without
// timestamps and without docker's runtime files, and compared with the
// config fields Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts,
// Volumes, Labels, OnBuild, StopSignal, Healthcheck and Shell.
//
// Run with -update to rewrite the golden files from hoist's results (review
// them by eye; run where docker answers so every case is compared first).
package compat
