package dockerfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Error is a Dockerfile error at a location. Its message has the form
// "FILE:LINE: MESSAGE", where MESSAGE names the instruction.
type Error struct {
	File        string
	Line        int    // first line of the offending instruction (1-based)
	Instruction string // upper-case keyword, "" when the error is not about one
	Msg         string
	Err         error // the underlying error, if any
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the underlying error and the error class.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Err, errdefs.ErrInvalidArgument}
	}
	return []error{errdefs.ErrInvalidArgument}
}

// newError builds an *Error. When msg does not already name the instruction
// it is prefixed with "KEYWORD: ".
func newError(file string, line int, instr string, err error) *Error {
	msg := err.Error()
	if instr != "" && !strings.Contains(msg, instr) {
		msg = instr + ": " + msg
	}
	var cause error
	if !isPlain(err) {
		cause = err
	}
	return &Error{File: file, Line: line, Instruction: instr, Msg: msg, Err: cause}
}

// isPlain reports whether err carries nothing beyond its message.
func isPlain(err error) bool {
	return errors.Unwrap(err) == nil
}

// errorf is a plain error used inside the parser before location is known.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
