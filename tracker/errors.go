package tracker

import (
	"errors"
	"fmt"
	"strings"
)

// The error classes the command layer maps to exit codes (one place:
// tracker/cmd.ExitCode). Wrap one of these, or return a *RefusedError or
// *UsageError, and the user gets the documented exit code.
var (
	// ErrRefused: a gate or a rule refused the command; nothing was written. Exit 1.
	ErrRefused = errors.New("refused")
	// ErrUsage: bad flags, arguments or input values. Exit 2.
	ErrUsage = errors.New("usage error")
	// ErrDatabase: porting.db is missing, corrupt, foreign or newer than this binary. Exit 3.
	ErrDatabase = errors.New("database unusable")
)

// RefusedError explains a refusal; Problems lists every reason so the user can
// fix them all in one go.
type RefusedError struct {
	Msg      string
	Problems []string
}

func (e *RefusedError) Error() string {
	if len(e.Problems) == 0 {
		return e.Msg
	}
	return e.Msg + ":\n  " + strings.Join(e.Problems, "\n  ")
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// Refusedf builds a RefusedError without itemised problems.
func Refusedf(format string, args ...any) error {
	return &RefusedError{Msg: fmt.Sprintf(format, args...)}
}

// UsageError is a bad flag, argument or value.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }
func (e *UsageError) Unwrap() error { return ErrUsage }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}
