package domain

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
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
	ETOOLARGE     = "too_large"           // larger than the event log takes (413)
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

// errIDUsed is the conflict of a creation under an id whose stream already
// has events: kind names the aggregate ("article").
func errIDUsed(kind, id string) *Error {
	return Errorf(ECONFLICT, "%s id %s is already used", kind, id)
}

// FieldError returns an *Error of the given code naming one field.
func FieldError(code, field, problem string) *Error {
	return &Error{Code: code, Message: field + ": " + problem, Fields: map[string]string{field: problem}}
}

// Outcome names how a command or a query ended, for metrics: "ok",
// "canceled" (the caller went away or ran out of time) or the error's code.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return ErrorCode(err)
}

// ErrorCode returns the code of the first *Error in err's chain (EUNAVAILABLE
// for an *UnavailableError), EINTERNAL for any other non-nil error and "" for
// nil.
func ErrorCode(err error) string {
	var e *Error
	var u *UnavailableError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.As(err, &u):
		return EUNAVAILABLE
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-facing message of err. Internal errors get a
// generic message so that no detail of the system leaks to a client.
func ErrorMessage(err error) string {
	var e *Error
	var u *UnavailableError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e) && e.Code != EINTERNAL:
		return e.Message
	case errors.As(err, &u):
		return u.message()
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

// Dependencies Inkwell names when one of them cannot serve.
const (
	DependencyEventLog = "event_log" // NATS JetStream, embedded or external
	DependencyDatabase = "database"  // the read-model database
)

// UnavailableError says that a dependency (the event log, the database) could
// not serve a request in time: it is down, slow, or cannot store. The request
// may be retried later. Its code is EUNAVAILABLE (503).
type UnavailableError struct {
	// Dependency is DependencyEventLog or DependencyDatabase.
	Dependency string
	// OutcomeUnknown is set when a change was sent to the event log but
	// whether it was recorded could not be learned in time: it may have
	// been. Nothing that depends on the change not having happened (such
	// as giving up a claim) may be done.
	OutcomeUnknown bool
	// Reason, if set, says what is wrong in words a client may read
	// ("its disk is full"); the cause itself is never shown to clients.
	Reason string
	// RetryAfter, if set, is when a retry is likely to succeed.
	RetryAfter time.Duration
	// Err is the cause.
	Err error
}

// Error implements the error interface.
func (e *UnavailableError) Error() string {
	s := e.Dependency + " unavailable"
	if e.OutcomeUnknown {
		s += " (outcome unknown)"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

func (e *UnavailableError) message() string {
	name := map[string]string{DependencyEventLog: "The event log", DependencyDatabase: "The database"}[e.Dependency]
	if name == "" {
		name = "A service Inkwell depends on"
	}
	switch {
	case e.OutcomeUnknown:
		return name + " did not confirm the change in time: it may have been recorded. " +
			"Retry with the same Idempotency-Key to get its outcome without making it twice."
	case e.Reason != "":
		return name + " is unavailable (" + e.Reason + "); retry shortly."
	}
	return name + " is unavailable; retry shortly."
}

// Unavailable returns an *UnavailableError of dependency caused by err.
func Unavailable(dependency string, err error) error {
	return &UnavailableError{Dependency: dependency, Err: err}
}

// OutcomeUnknown reports whether err says that a change may or may not have
// been recorded (see UnavailableError.OutcomeUnknown).
func OutcomeUnknown(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u) && u.OutcomeUnknown
}
