package container

import (
	"context"

	"github.com/hoistproject/hoist/internal/container/runtime"
)

// ociRuntime is c's OCI runtime with its state root.
func (m *Manager) ociRuntime(c *Container) runtime.Runtime {
	rt := m.runtimeOf(c)
	return runtime.Runtime{Binary: rt, Root: m.runtimeRoot(rt)}
}

// runtimeCmd builds an invocation of c's OCI runtime with its state root.
func (m *Manager) runtimeCmd(ctx context.Context, c *Container, args ...string) *runtime.Cmd {
	return m.ociRuntime(c).Command(ctx, args...)
}

// runtimeRun runs c's runtime with args and returns an error with its
// stderr on failure.
func (m *Manager) runtimeRun(ctx context.Context, c *Container, args ...string) error {
	return m.ociRuntime(c).Run(ctx, args...)
}

// runtimeState returns the runtime's status of c ("created", "running",
// "paused", "stopped"), or an error if the runtime does not know it.
func (m *Manager) runtimeState(ctx context.Context, c *Container) (string, error) {
	st, err := m.ociRuntime(c).State(ctx, c.ID)
	return st.Status, err
}

// StartError is a failure to start a container's process, with docker's
// exit code: 126 (cannot execute), 127 (not found) or 125.
type StartError struct {
	Code int
	Msg  string
	// Shown: the runtime's own words already reached the caller's stderr
	// (exec without a terminal hands the runtime that stderr).
	Shown bool
}

func (e *StartError) Error() string { return e.Msg }

// classifyStartError maps a runtime's error starting the process whose
// argv[0] is arg0 to docker's words and exit code. (docker 20.10 puts
// containerd's "failed to create shim task: " first; a daemonless engine
// has no shim, so the message starts at the runtime's part, the one
// scripts match: "OCI runtime create failed: ...".)
func classifyStartError(msg, arg0 string) *StartError {
	msg = runtime.DockerWords(msg, arg0)
	return &StartError{Code: runtime.ExitCode(msg), Msg: "OCI runtime create failed: " + msg + ": unknown"}
}

// classifyExecError is classifyStartError for exec, in docker's words.
func classifyExecError(msg, arg0 string) *StartError {
	msg = runtime.DockerWords(msg, arg0)
	return &StartError{Code: runtime.ExitCode(msg), Msg: "OCI runtime exec failed: " + msg + ": unknown"}
}
