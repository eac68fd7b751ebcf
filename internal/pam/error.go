// Package pam holds Elevate's domain: users, tasks, roles, policies, requests and the rules that
// move them between states. It imports only the standard library; time is always passed in.
package pam

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer; the web layer maps them to HTTP statuses.
const (
	EINVALID   = "invalid"
	EFORBIDDEN = "forbidden"
	ENOTFOUND  = "not_found"
	ECONFLICT  = "conflict"
	EINTERNAL  = "internal"
)

// Error is a domain error: a code for programs and a message a person can read.
type Error struct {
	Code    string
	Message string
	// Field names the form field the error belongs to, when there is one.
	Field string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error tied to one form field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the readable message of the first *Error in err's chain,
// and a generic sentence for anything else so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong."
}
