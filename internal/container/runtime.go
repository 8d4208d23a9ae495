package container

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// runtimeCmd builds an invocation of c's OCI runtime with its state root.
func (m *Manager) runtimeCmd(ctx context.Context, c *Container, args ...string) *exec.Cmd {
	rt := m.runtimeOf(c)
	full := append([]string{"--root", m.runtimeRoot(rt)}, args...)
	cmd := exec.CommandContext(ctx, rt, full...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	return cmd
}

// runtimeRun runs the runtime with args and returns a classed error with its
// stderr on failure.
func (m *Manager) runtimeRun(ctx context.Context, c *Container, args ...string) error {
	cmd := m.runtimeCmd(ctx, c, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", filepath.Base(m.runtimeOf(c)), args[0], msg)
	}
	return nil
}

// runtimeState returns the runtime's status of c ("created", "running",
// "paused", "stopped"), or an error if the runtime does not know it.
func (m *Manager) runtimeState(ctx context.Context, c *Container) (string, error) {
	cmd := m.runtimeCmd(ctx, c, "state", c.ID)
	out, err := cmd.Output()
	if err != nil {
		return "", errdefs.NotFoundf("runtime has no container %s", c.ID)
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return "", err
	}
	return st.Status, nil
}

// runtimeError extracts the runtime's last error message from its JSON log
// file (--log-format json), falling back to fallback.
func runtimeError(logPath, fallback string) string {
	msg := ""
	if f, err := os.Open(logPath); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			var e struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
			}
			if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") && e.Msg != "" {
				msg = e.Msg
			}
		}
		f.Close()
	}
	if msg == "" {
		msg = strings.TrimSpace(fallback)
	}
	if msg == "" {
		msg = "unknown runtime error"
	}
	return msg
}

// StartError is a failure to start a container's process, with docker's
// exit code: 126 (cannot execute), 127 (not found) or 125.
type StartError struct {
	Code int
	Msg  string
}

func (e *StartError) Error() string { return e.Msg }

// classifyStartError maps a runtime error message to docker's exit code.
func classifyStartError(msg string) *StartError {
	code := 125
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "executable file not found"), strings.Contains(low, "no such file or directory"):
		code = 127
	case strings.Contains(low, "permission denied"), strings.Contains(low, "exec format error"), strings.Contains(low, "is a directory"), strings.Contains(low, "not a directory"):
		code = 126
	}
	return &StartError{Code: code, Msg: "failed to create task for container: OCI runtime create failed: " + msg}
}
