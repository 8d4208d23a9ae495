// Package runtime owns the invocation of an OCI runtime (runc or crun):
// a Runtime is a binary and its --root state directory; every command a
// container's runtime gets (and a build step's) goes through
// Runtime.Command, which on a hybrid cgroup host runs crun in a private
// mount namespace without the cgroup2 hierarchy (crun refuses hybrid
// mode; runc uses the v1 controllers). Default is the runtime used when
// none is named: crun where installed, else runc.
//
// It owns what differs between the runtimes, so that a container looks
// and fails alike with either: the config.json each gets (WriteConfig;
// for crun the seccomp filter hoist compiled and the mounts that make its
// /proc and /sys/fs/cgroup look as runc's, forCrun), their log option
// (LogArgs), their start errors in docker's words and exit codes
// (LastError, DockerWords, ExitCode), and the stderr of an exec'd process
// that crun also writes its own failure to (ProcessStderr). It reads the
// runtime's state ("state ID") and receives the pty master a runtime sends
// on a --console-socket (RecvConsole).
//
// It owns no on-disk layout of its own: the caller chooses the state root
// (hoist uses <root>/runtime/<runtime-name>/) and the log file paths.
package runtime
