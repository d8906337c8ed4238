package commands

import (
	"errors"

	"inkwell/domain"
)

// Refusal is a command refused by a rule on the state of an aggregate as
// the log held it: the aggregate of Stream, loaded up to the log sequence
// Seq (0: the stream was empty). It wraps the domain's error (Err), whose
// kind still decides the answer.
//
// The read models lag the log. A client told that its change is refused
// (412: the article changed since it read it; 404: it is gone) reads again
// and must see the state it was refused against, or it decides again on
// stale state and is refused again, for as long as the read models lag:
// whoever answers a refusal waits (bounded) for the read models of
// Stream's aggregate type to reach Seq first, as a write waits for its own
// event.
type Refusal struct {
	Err    error
	Stream domain.StreamID
	Seq    uint64
}

// Error returns the domain error's message.
func (r *Refusal) Error() string { return r.Err.Error() }

// Unwrap returns the domain error.
func (r *Refusal) Unwrap() error { return r.Err }

// refused wraps err, a decision against the aggregate of stream loaded at
// pos, as a *Refusal; errors that are not a rule's refusal (an unavailable
// dependency, an internal error) are returned as they are, and so is an
// error that is already a Refusal.
func refused(err error, stream domain.StreamID, pos domain.Position) error {
	if err == nil {
		return nil
	}
	var r *Refusal
	if errors.As(err, &r) {
		return err
	}
	switch domain.ErrorCode(err) {
	case domain.EINTERNAL, domain.EUNAVAILABLE, "":
		return err
	}
	return &Refusal{Err: err, Stream: stream, Seq: pos.Seq}
}
