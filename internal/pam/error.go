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
	// Also holds the further problems found in the same input, each beside its own field, so a
	// form can show them all at once rather than one for each submit (see Problems).
	Also []*Error
}

// All returns the error's problem followed by those in Also.
func (e *Error) All() []*Error {
	return append([]*Error{e}, e.Also...)
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

// Problems gathers what is wrong with one input, in the order it is checked: a form's parser and
// its Validate add to it and return its Err, so every field's problem is told at once.
type Problems struct {
	list []*Error
	// other is the first error that is not a problem with the input; Err returns it alone.
	other error
}

// Add keeps err (nil is nothing): a problem with the input unless its field already has one (the
// first problem found for a field is the most precise, such as "write a duration" before "choose
// a longer one"), or anything else to be returned alone.
func (ps *Problems) Add(err error) {
	var e *Error
	switch {
	case err == nil:
	case !errors.As(err, &e) || e.Code != EINVALID:
		if ps.other == nil {
			ps.other = err
		}
	default:
		for _, one := range e.All() {
			if one.Field == "" || !ps.Failed(one.Field) {
				ps.list = append(ps.list, &Error{Code: one.Code, Message: one.Message, Field: one.Field})
			}
		}
	}
}

// Failed reports whether the input has a problem on the named field.
func (ps *Problems) Failed(field string) bool {
	for _, e := range ps.list {
		if e.Field == field {
			return true
		}
	}
	return false
}

// Err returns nil when nothing was found wrong; otherwise the first problem with the others in
// its Also, or the first error that was not a problem with the input.
func (ps *Problems) Err() error {
	if ps.other != nil {
		return ps.other
	}
	if len(ps.list) == 0 {
		return nil
	}
	first := *ps.list[0]
	first.Also = ps.list[1:]
	return &first
}
