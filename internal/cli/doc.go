// Package cli is the thin command layer of hoist: one file per verb, each
// parsing flags, calling one internal/engine function (the application
// layer, which records every event), then formatting output like docker
// (tables, templates, progress bars, the terminal's raw mode and signals).
// Errors are translated to exit codes here and nowhere else (exit.go). No
// business logic lives in this package; what internal/cli may import is
// listed, with reasons, in internal/engine/deps_test.go: the engine, value
// and formatting packages, and the registry server that the registry verb
// serves.
package cli
