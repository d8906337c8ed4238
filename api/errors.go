package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"inkwell/commands"
	"inkwell/domain"
)

// codes maps each domain error code to its HTTP status. It is the only place
// where that mapping happens.
var codes = map[string]int{
	domain.ECONFLICT:     http.StatusConflict,
	domain.EINVALID:      http.StatusUnprocessableEntity,
	domain.ENOTFOUND:     http.StatusNotFound,
	domain.EUNAUTHORIZED: http.StatusUnauthorized,
	domain.EFORBIDDEN:    http.StatusForbidden,
	domain.EPRECONDITION: http.StatusPreconditionFailed,
	domain.EUNAVAILABLE:  http.StatusServiceUnavailable,
	domain.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	domain.EINTERNAL:     http.StatusInternalServerError,
}

// Problem is an error body (RFC 9457 problem details): detail says what went
// wrong in words, errors names the offending fields, and dependency names
// the part of the system that could not serve (a 503).
type Problem struct {
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Status     int               `json:"status"`
	Detail     string            `json:"detail"`
	Errors     map[string]string `json:"errors,omitempty"`
	Dependency string            `json:"dependency,omitempty"`
	RequestID  string            `json:"request_id,omitempty"`
}

// errTooSlow is a request that ran out of its deadline (see withDeadline)
// in a step that does not say which dependency it waited for.
var errTooSlow = domain.Errorf(domain.EUNAVAILABLE, "The request took too long; retry shortly.")

// httpError is an error raised by the HTTP layer itself (malformed JSON, a
// body too large), with its status.
type httpError struct {
	status int
	detail string
	fields map[string]string
}

func (e *httpError) Error() string { return e.detail }

func newHTTPError(status int, detail string) *httpError {
	return &httpError{status: status, detail: detail}
}

// writeError answers a request with the problem err describes. Internal
// errors are logged with their cause and shown to the client as a generic
// message, without any detail of the system. A dependency that could not
// serve is a 503 naming it, with Retry-After, logged as a warning.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = s.settleRefusal(r.Context(), err)
	p := Problem{Type: "about:blank", RequestID: requestID(r.Context())}
	if clientGone(r, err) {
		// Nobody reads this answer: it is recorded (log and metrics) as
		// 499, the client's doing, not as a failure of the server.
		s.log.InfoContext(r.Context(), "client closed the request", "method", r.Method, "path", r.URL.Path, "err", err)
		p.Status, p.Title, p.Detail = StatusClientClosedRequest, "Client Closed Request", "The client closed the request."
		writeJSONStatus(w, p.Status, "application/problem+json", p)
		return
	}
	var he *httpError
	var ue *domain.UnavailableError
	if domain.ErrorCode(err) == domain.EINTERNAL && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		err = fmt.Errorf("%w: %w", errTooSlow, err)
	}
	switch {
	case errors.As(err, &he):
		p.Status, p.Detail, p.Errors = he.status, he.detail, he.fields
	case errors.As(err, &ue):
		p.Status, p.Detail, p.Dependency = http.StatusServiceUnavailable, domain.ErrorMessage(err), ue.Dependency
		retry := max(ue.RetryAfter, time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		if suppressed, ok := s.unavailable.allow(ue.Dependency, s.Now()); ok {
			s.log.WarnContext(r.Context(), "dependency unavailable", "dependency", ue.Dependency, "outcome_unknown", ue.OutcomeUnknown,
				"err", err, "method", r.Method, "path", r.URL.Path, "since_last_logged", suppressed)
		}
		if s.Unavailable != nil {
			s.Unavailable.DependencyUnavailable(ue.Dependency)
		}
	default:
		code := domain.ErrorCode(err)
		p.Status = codes[code]
		if p.Status == 0 {
			p.Status = http.StatusInternalServerError
		}
		p.Detail, p.Errors = domain.ErrorMessage(err), domain.ErrorFields(err)
		if code == domain.EINTERNAL {
			s.log.ErrorContext(r.Context(), "internal error", "err", err, "method", r.Method, "path", r.URL.Path)
		}
	}
	p.Title = http.StatusText(p.Status)
	switch p.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="inkwell"`)
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1")
		}
	}
	writeJSONStatus(w, p.Status, "application/problem+json", p)
}

// rateLimitedLog lets a message through once per key every
// rateLimitedEvery, counting what it held back: during an outage every
// request meets the same failure, and one line with a count says it.
// StatusClientClosedRequest is the status recorded for a request whose
// client went away before its answer (nginx's 499).
const StatusClientClosedRequest = 499

// clientGone reports whether err is what the client's closing the request
// (its context cancelled, not timed out) made of a query or a call: the
// cancellation itself, or the failure a dependency reports for a cancelled
// statement. A refusal (4xx) is answered as usual.
func clientGone(r *http.Request, err error) bool {
	if !errors.Is(r.Context().Err(), context.Canceled) {
		return false
	}
	var ue *domain.UnavailableError
	return errors.Is(err, context.Canceled) || errors.As(err, &ue) || domain.ErrorCode(err) == domain.EINTERNAL
}

type rateLimitedLog struct {
	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

const rateLimitedEvery = 10 * time.Second

// allow reports whether to log for key now, and how many were held back
// since the last line.
func (l *rateLimitedLog) allow(key string, now time.Time) (held int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.held = map[string]time.Time{}, map[string]int{}
	}
	if last, seen := l.last[key]; seen && now.Sub(last) < rateLimitedEvery {
		l.held[key]++
		return 0, false
	}
	held = l.held[key]
	l.last[key], l.held[key] = now, 0
	return held, true
}

// settleRefusal waits, before a command's refusal is answered, until the
// read models show the state of the aggregate it was decided against (see
// commands.Refusal), as long as a write waits to be readable: a client
// that reads after a refusal sees why it was refused. When they do not in
// time, the refusal is not answered: a 503 says to retry shortly (nothing
// was written), rather than a refusal the next read would contradict.
func (s *Server) settleRefusal(ctx context.Context, err error) error {
	var ref *commands.Refusal
	if !errors.As(err, &ref) || ref.Seq == 0 {
		return err
	}
	if s.readYourWrites(ctx, ref.Stream.Type, ref.Seq) {
		return err
	}
	if ctx.Err() != nil {
		return err // the client is gone, or the request's own time is up
	}
	return &domain.UnavailableError{Dependency: domain.DependencyDatabase, RetryAfter: time.Second,
		Reason: "the read models have not caught up yet with the change this request conflicts with", Err: err}
}
