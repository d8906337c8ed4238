// Package logging carries a request's id in its context to every log line
// written while the request is handled, whichever package writes it: the
// API puts the id in the context (WithRequestID), and the handler that
// cmd/inkwell wraps around the process's logger (Handler) adds it to every
// record logged with that context.
package logging

import (
	"context"
	"log/slog"
)

// RequestIDKey is the attribute that names the request a log line belongs to.
const RequestIDKey = "request_id"

type ctxKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id ctx carries, "" for none.
func RequestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Handler wraps h so that a record logged with a context carrying a request
// id gets a request_id attribute (unless it has one). Wrapping twice adds
// it once.
func Handler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

// Logger returns l with its handler wrapped by Handler.
func Logger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(requestIDHandler); ok {
		return l
	}
	return slog.New(Handler(l.Handler()))
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == RequestIDKey
			return !has
		})
		if !has {
			r = r.Clone()
			r.AddAttrs(slog.String(RequestIDKey, id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
