// Package runtime owns the invocation of an OCI runtime (runc or crun):
// a Runtime is a binary and its --root state directory; every command a
// container's runtime gets goes through Runtime.Command, which on a hybrid
// cgroup host runs crun in a private mount namespace without the cgroup2
// hierarchy (crun refuses hybrid mode; runc uses the v1 controllers). It
// also reads the runtime's state ("state ID"), its JSON log (LastError),
// maps its start errors to docker's exit codes (ExitCode), and receives
// the pty master a runtime sends on a --console-socket (RecvConsole).
//
// It owns no on-disk layout of its own: the caller chooses the state root
// (hoist uses <root>/runtime/<runtime-name>/) and the log file paths.
package runtime
