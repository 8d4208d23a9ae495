// Package cli is the thin command layer of hoist: one file per verb, each
// parsing flags, calling one internal/engine function (the application
// layer, which records every event), then formatting output like docker.
// Errors are translated to exit codes here and nowhere else (exit.go). No
// business logic lives in this package; what internal/cli may import is
// listed, with reasons, in internal/engine/deps_test.go (some verbs still
// reach the stores through the engine's Images and Containers).
package cli
