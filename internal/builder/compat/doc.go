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
// HOIST_COMPAT_DOCKER=0 skips docker and checks the golden files only;
// HOIST_COMPAT_KEEP=1 keeps the docker images for a look afterwards.
//
// Docker names are per run: the Dockerfiles' hoist-compat/<base> is
// rewritten to hoist-compat-<run>/<base> (in --build-arg values too), so
// that concurrent runs on one engine share no tag; at the end the run
// removes its images, the untagged ones of non-target stages included.
//
// # Cases docker's classic builder cannot build
//
// Cases whose case.json sets "buildkit" use BuildKit-only syntax (heredocs,
// RUN --mount and --network, COPY --link/--parents/--exclude, --chmod, ADD
// --checksum, the predefined platform ARGs). They are built by docker's
// BuildKit when the buildx plugin is there, else checked against their
// golden files only; so are those docker's BuildKit cannot build (docker
// 20.10 embeds BuildKit v0.8, whose frontend predates most of these flags).
// Every other case is compared with docker's classic builder even when
// buildx is present: BuildKit v0.8 left mount-point stubs (/proc, /dev,
// /sys, --mount targets) in layers and gave RUN no primary gid among its
// groups, since-fixed bugs hoist does not copy; when BuildKit is the
// reference, empty root-owned directories only docker has are ignored for
// that reason.
//
// # Known differences from docker 20.10's classic builder (excluded)
//
// Each is excluded in the case's case.json with its reason; hoist follows
// BuildKit in all of them:
//   - a missing WORKDIR is created owned by the USER (classic: root);
//   - HEALTHCHECK replaces the previous one whole (classic fills zero
//     options from it through the daemon's commit merge), also under NONE;
//   - COPY keeps setuid/setgid bits of context files (classic loses them:
//     it chowns after chmod, and Linux clears them on chown);
//   - ADD --chown of a local archive creates the destination directory
//     owned as --chown says (classic: root);
//   - what a RUN writes below a VOLUME declared earlier is kept (classic
//     discards it: the volume is mounted during RUN);
//   - .tar.zst archives are extracted by ADD (docker 20.10 predates zstd);
//   - the docker CLI appends the name of a -f Dockerfile from outside the
//     context to the .dockerignore it sends (an artefact of the suite).
package compat
