// Package dockerfile turns Dockerfile text into typed instructions.
//
// It owns the language level of a build: parser directives (escape, syntax,
// check), line continuations, comments, heredocs, the exec (JSON) and shell
// forms, the flags of every instruction, global ARGs before the first FROM,
// the split into stages, and variable expansion.
//
// The low-level tokenizing is BuildKit's parser
// (github.com/moby/buildkit/frontend/dockerfile/parser) and expansion is its
// shell lexer (.../dockerfile/shell); both are dependencies, not copies. The
// typed instructions, flag handling, validation and error messages are ours.
//
// Parse keeps every value raw (quotes still in place, variables unexpanded)
// because expansion depends on build state (ARG and ENV values) that only the
// builder knows. Expand applies the lexer to exactly the fields docker expands
// (ADD COPY ENV EXPOSE LABEL STOPSIGNAL USER VOLUME WORKDIR, ARG defaults, the
// option values of RUN --mount/--network, FROM with the global ARGs) and
// reports which variables each instruction referenced, for cache keys. RUN,
// CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD are never expanded by the
// builder.
//
// Expand checks a STOPSIGNAL against docker's signal table (package
// signals). Helpers for the builder: ExposedPorts (EXPOSE words to config
// keys), the predefined ARGs (IsProxyArg, PlatformArgs),
// Format (a stable one-line rendering, the instruction part of a cache key
// once expanded), ParseInstruction/ParseTrigger (ONBUILD triggers of a base
// image), File.Stage and Stage.References (for the stage DAG).
//
// Every error is an *Error naming the file, the line and the instruction
// ("Dockerfile:7: unknown instruction: FORM") and is classed
// errdefs.ErrInvalidArgument.
//
// The package owns no on-disk state.
package dockerfile
