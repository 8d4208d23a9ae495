// Package errdefs defines the error classes shared by every hoist package.
//
// A class is attached with one of the constructors (NotFound, InvalidArgument,
// ...) which keep the original message intact; callers test with errors.Is
// against the Err* sentinels. Boundaries translate classes exactly once: the
// CLI maps them to exit codes, the registry server to distribution error codes.
package errdefs

import (
	"errors"
	"fmt"
)

// The error classes.
var (
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrConflict           = errors.New("conflict")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrUnauthorized       = errors.New("unauthorized")
	ErrForbidden          = errors.New("forbidden")
	ErrUnavailable        = errors.New("unavailable")
	ErrNotImplemented     = errors.New("not implemented")
	ErrDataLoss           = errors.New("data loss")
)

type classed struct {
	err   error
	class error
}

func (c *classed) Error() string   { return c.err.Error() }
func (c *classed) Unwrap() []error { return []error{c.err, c.class} }

func wrap(class error, err error) error {
	if err == nil {
		return nil
	}
	return &classed{err: err, class: class}
}

func wrapf(class error, format string, args ...any) error {
	return wrap(class, fmt.Errorf(format, args...))
}

// NotFound marks err as ErrNotFound.
func NotFound(err error) error { return wrap(ErrNotFound, err) }

// NotFoundf formats an ErrNotFound error.
func NotFoundf(format string, args ...any) error { return wrapf(ErrNotFound, format, args...) }

// AlreadyExistsf formats an ErrAlreadyExists error.
func AlreadyExistsf(format string, args ...any) error {
	return wrapf(ErrAlreadyExists, format, args...)
}

// InvalidArgument marks err as ErrInvalidArgument.
func InvalidArgument(err error) error { return wrap(ErrInvalidArgument, err) }

// InvalidArgumentf formats an ErrInvalidArgument error.
func InvalidArgumentf(format string, args ...any) error {
	return wrapf(ErrInvalidArgument, format, args...)
}

// Conflictf formats an ErrConflict error.
func Conflictf(format string, args ...any) error { return wrapf(ErrConflict, format, args...) }

// FailedPreconditionf formats an ErrFailedPrecondition error.
func FailedPreconditionf(format string, args ...any) error {
	return wrapf(ErrFailedPrecondition, format, args...)
}

// Unauthorizedf formats an ErrUnauthorized error.
func Unauthorizedf(format string, args ...any) error {
	return wrapf(ErrUnauthorized, format, args...)
}

// Forbiddenf formats an ErrForbidden error.
func Forbiddenf(format string, args ...any) error { return wrapf(ErrForbidden, format, args...) }

// Unavailablef formats an ErrUnavailable error.
func Unavailablef(format string, args ...any) error { return wrapf(ErrUnavailable, format, args...) }

// NotImplementedf formats an ErrNotImplemented error.
func NotImplementedf(format string, args ...any) error {
	return wrapf(ErrNotImplemented, format, args...)
}

// DataLossf formats an ErrDataLoss error (corrupt or mismatching content).
func DataLossf(format string, args ...any) error { return wrapf(ErrDataLoss, format, args...) }

// IsNotFound reports whether err is of class ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAlreadyExists reports whether err is of class ErrAlreadyExists.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsInvalidArgument reports whether err is of class ErrInvalidArgument.
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// IsConflict reports whether err is of class ErrConflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsFailedPrecondition reports whether err is of class ErrFailedPrecondition.
func IsFailedPrecondition(err error) bool { return errors.Is(err, ErrFailedPrecondition) }

// IsDaemonSide reports an error that docker's daemon would have answered
// (rather than its client): an unknown image or container, a conflict, a
// container in the wrong state.
func IsDaemonSide(err error) bool {
	return IsNotFound(err) || IsConflict(err) || IsFailedPrecondition(err)
}

// IsDataLoss reports whether err is of class ErrDataLoss.
func IsDataLoss(err error) bool { return errors.Is(err, ErrDataLoss) }
