package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Helper runs one docker credential helper program (found in PATH).
type Helper struct {
	Program string // e.g. "docker-credential-pass"
}

type helperCreds struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

// notFoundMessage is what helpers print when they hold nothing for a server.
const notFoundMessage = "credentials not found in native keychain"

func (h Helper) run(ctx context.Context, action string, input []byte) ([]byte, error) {
	path, err := exec.LookPath(h.Program)
	if err != nil {
		return nil, errdefs.FailedPreconditionf("credential helper %s is configured but not installed: %v", h.Program, err)
	}
	cmd := exec.CommandContext(ctx, path, action)
	cmd.Stdin = bytes.NewReader(input)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = strings.TrimSpace(errb.String())
		}
		if strings.Contains(msg, notFoundMessage) {
			return nil, errdefs.NotFoundf("%s %s: %s", h.Program, action, msg)
		}
		var ee *exec.ExitError
		if msg == "" && errors.As(err, &ee) {
			msg = ee.String()
		}
		return nil, fmt.Errorf("error %s credentials with %s: %s", actionVerb(action), h.Program, msg)
	}
	return out.Bytes(), nil
}

func actionVerb(a string) string {
	switch a {
	case "get":
		return "getting"
	case "store":
		return "storing"
	case "erase":
		return "erasing"
	}
	return a
}

// Get asks the helper for serverURL's credentials.
func (h Helper) Get(ctx context.Context, serverURL string) (user, secret string, err error) {
	out, err := h.run(ctx, "get", []byte(serverURL))
	if err != nil {
		return "", "", err
	}
	var c helperCreds
	if err := json.Unmarshal(out, &c); err != nil {
		return "", "", fmt.Errorf("credential helper %s get: invalid answer: %v", h.Program, err)
	}
	return c.Username, c.Secret, nil
}

// Store hands credentials to the helper.
func (h Helper) Store(ctx context.Context, serverURL, user, secret string) error {
	b, _ := json.Marshal(helperCreds{ServerURL: serverURL, Username: user, Secret: secret})
	_, err := h.run(ctx, "store", b)
	return err
}

// Erase asks the helper to forget serverURL.
func (h Helper) Erase(ctx context.Context, serverURL string) error {
	_, err := h.run(ctx, "erase", []byte(serverURL))
	return err
}
