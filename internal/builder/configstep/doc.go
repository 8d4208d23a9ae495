// Package configstep is the config-only instructions of a Dockerfile: ENV,
// LABEL, MAINTAINER, CMD, ENTRYPOINT, EXPOSE, VOLUME, USER, STOPSIGNAL,
// SHELL, HEALTHCHECK and ONBUILD. For gives, for an expanded instruction,
// the text BuildKit records in the image history (which is also the
// step's cache key text, e.g. `CMD ["/bin/sh" "-c" "x"]`, "EXPOSE
// [80/tcp]") and its change to the image config, applied by the builder.
// EXPOSE words are normalised by dockerfile.ExposedPorts, the one rule
// commit and import -c use too.
// They never touch a filesystem. WithShell is how CMD, ENTRYPOINT and RUN
// turn a shell form into an argv.
//
// It owns no on-disk state.
package configstep
