// Package cli is the thin command layer of hoist: one file per verb, each
// parsing flags and calling one library function, then formatting output like
// docker. Errors are translated to exit codes here and nowhere else
// (exit.go). No business logic lives in this package.
package cli
