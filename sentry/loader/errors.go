package loader

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Error is a load failure: the errno that execve(2) returns and a message
// that says what was wrong with the executable. errors.Is(err, unix.ENOEXEC)
// (and so on) works on it.
type Error struct {
	Errno unix.Errno
	Msg   string
	// Err is the underlying error, if any (for example, from the memory
	// manager or the file).
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	return "loader: " + e.text() + " (" + e.Errno.Error() + ")"
}

// text is the message chain without the errno.
func (e *Error) text() string {
	var inner *Error
	var errno unix.Errno
	switch {
	case e.Err == nil:
		return e.Msg
	case errors.As(e.Err, &inner):
		return e.Msg + ": " + inner.text()
	case errors.As(e.Err, &errno) && errno == e.Errno:
		return e.Msg
	default:
		return e.Msg + ": " + e.Err.Error()
	}
}

// Unwrap lets errors.Is match both the errno and the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Errno, e.Err}
	}
	return []error{e.Errno}
}

// Errno returns the errno that execve(2) should return for err: the one
// recorded in an *Error or any unix.Errno in the chain, else ENOEXEC.
func Errno(err error) unix.Errno {
	var le *Error
	if errors.As(err, &le) {
		return le.Errno
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.ENOEXEC
}

func errorf(errno unix.Errno, format string, args ...any) error {
	return &Error{Errno: errno, Msg: fmt.Sprintf(format, args...)}
}

// wrapf wraps err, taking the errno from it when it carries one and using
// def otherwise.
func wrapf(err error, def unix.Errno, format string, args ...any) error {
	errno := def
	var e unix.Errno
	var le *Error
	if errors.As(err, &le) {
		errno = le.Errno
	} else if errors.As(err, &e) {
		errno = e
	}
	return &Error{Errno: errno, Msg: fmt.Sprintf(format, args...), Err: err}
}
