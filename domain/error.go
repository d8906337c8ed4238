package domain

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. Each maps to one HTTP status in the api package.
const (
	ECONFLICT     = "conflict"            // duplicate or concurrent change (409)
	EINTERNAL     = "internal"            // a bug or an unavailable dependency (500)
	EINVALID      = "invalid"             // the input breaks a rule (422)
	ENOTFOUND     = "not_found"           // no such thing, or not visible to the caller (404)
	EUNAUTHORIZED = "unauthorized"        // no valid credentials (401)
	EFORBIDDEN    = "forbidden"           // authenticated but not allowed (403)
	EPRECONDITION = "precondition_failed" // a conditional request was stale (412)
	EUNAVAILABLE  = "unavailable"         // temporarily unable to serve; retry later (503)
)

// Error is a domain error: a code, a message meant for the caller and, for
// invalid input, the offending fields.
type Error struct {
	Code    string
	Message string
	// Fields maps a field name (as the API spells it) to what is wrong with it.
	Fields map[string]string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("inkwell error: code=%s message=%s", e.Code, e.Message)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return fmt.Sprintf("inkwell error: code=%s message=%s fields=[%s]", e.Code, e.Message, strings.Join(parts, "; "))
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an *Error of the given code naming one field.
func FieldError(code, field, problem string) *Error {
	return &Error{Code: code, Message: field + ": " + problem, Fields: map[string]string{field: problem}}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-facing message of err. Internal errors get a
// generic message so that no detail of the system leaks to a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the field errors of err, or nil.
func ErrorFields(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Problems collects field errors while validating an input.
type Problems map[string]string

// Add records a problem with field, keeping the first one reported.
func (p Problems) Add(field, problem string) {
	if _, ok := p[field]; !ok {
		p[field] = problem
	}
}

// Err returns an EINVALID *Error listing the problems, or nil if there are none.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msg := "Invalid input: " + keys[0] + ": " + p[keys[0]]
	if len(keys) > 1 {
		msg = fmt.Sprintf("Invalid input in %d fields: %s", len(keys), strings.Join(keys, ", "))
	}
	return &Error{Code: EINVALID, Message: msg, Fields: map[string]string(p)}
}

// ErrConcurrentChange is wrapped by the event store when an append finds that
// the aggregate changed since it was loaded (optimistic concurrency).
var ErrConcurrentChange = &Error{Code: ECONFLICT, Message: "The resource was changed by another request; retry."}
