package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// ErrorEntry is one entry of a distribution API error body.
type ErrorEntry struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// Error is a registry's error answer: its HTTP status and error entries.
type Error struct {
	Status int
	Errors []ErrorEntry
}

// Error renders entries as docker does: "unauthorized: authentication required".
func (e *Error) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("%d %s", e.Status, strings.ToLower(http.StatusText(e.Status)))
	}
	parts := make([]string, 0, len(e.Errors))
	for _, x := range e.Errors {
		code := strings.ToLower(strings.ReplaceAll(x.Code, "_", " "))
		msg := x.Message
		if msg == "" {
			msg = code
		}
		if code == "" {
			parts = append(parts, msg)
		} else {
			parts = append(parts, code+": "+msg)
		}
	}
	return strings.Join(parts, "; ")
}

// HasCode reports whether the registry answered with this error code.
func (e *Error) HasCode(code string) bool {
	for _, x := range e.Errors {
		if x.Code == code {
			return true
		}
	}
	return false
}

// responseError reads resp's error body (closing it) and returns a classed
// error; what (may be "") prefixes the message, e.g. "manifest for x:y".
func responseError(resp *http.Response, what string) error {
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var v struct {
		Errors  []ErrorEntry `json:"errors"`
		Details string       `json:"details"`
	}
	if json.Unmarshal(body, &v) == nil {
		e.Errors = v.Errors
		if len(e.Errors) == 0 && v.Details != "" {
			e.Errors = []ErrorEntry{{Message: v.Details}}
		}
	}
	if len(e.Errors) == 0 {
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			e.Errors = []ErrorEntry{{Code: "UNAUTHORIZED", Message: "authentication required"}}
		case http.StatusForbidden:
			e.Errors = []ErrorEntry{{Code: "DENIED", Message: "requested access to the resource is denied"}}
		case http.StatusTooManyRequests:
			e.Errors = []ErrorEntry{{Code: "TOOMANYREQUESTS", Message: "too many requests"}}
		default:
			if t := strings.TrimSpace(string(body)); t != "" && len(t) < 200 && !strings.ContainsAny(t, "<{") {
				e.Errors = []ErrorEntry{{Message: t}}
			}
		}
	}
	var err error = e
	if what != "" {
		err = fmt.Errorf("%s: %w", what, e)
	}
	return classify(resp.StatusCode, err)
}

func classify(status int, err error) error {
	switch {
	case status == http.StatusNotFound:
		return errdefs.NotFound(err)
	case status == http.StatusUnauthorized:
		return errdefs.Unauthorizedf("%w", err)
	case status == http.StatusForbidden:
		return errdefs.Forbiddenf("%w", err)
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge || status == http.StatusRequestedRangeNotSatisfiable:
		return errdefs.InvalidArgument(err)
	case status == http.StatusConflict:
		return errdefs.Conflictf("%w", err)
	case status == http.StatusMethodNotAllowed:
		return errdefs.NotImplementedf("%w", err)
	case status == http.StatusTooManyRequests || status >= 500:
		return errdefs.Unavailablef("%w", err)
	}
	return err
}

// AsError returns the registry Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
