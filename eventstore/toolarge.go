package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// MinMessageLimit is the smallest message size, in bytes, that the NATS
// servers must take (their max_payload; the stream's max_msg_size, if set)
// for every message Inkwell writes to fit. The largest event, an article's
// at the limits of its fields made of the characters that take the most
// room once sealed, takes less than half of it
// (TestTheLargestEventTakesHalfMinMessageLimit); the kept answer of an
// idempotent request that wrote it (encoded in base64 twice over) takes
// more than that (TestTheLargestArticleWithAnIdempotencyKey in
// cmd/inkwell). The embedded server takes this much; a NATS server's
// default is 1 MiB.
const MinMessageLimit = 4 << 20

// EventLimit returns the largest message the log takes, in bytes, headers
// included: the server's max_payload, or the stream's max_msg_size when
// that is smaller. The stream's is read from the server when it answers
// within ctx, else from what this process last knew of it.
func (s *Store) EventLimit(ctx context.Context) int64 {
	limit := s.nc.MaxPayload()
	info := s.stream.CachedInfo()
	if fresh, err := s.stream.Info(ctx); err == nil {
		info = fresh
	}
	if info != nil && info.Config.MaxMsgSize > 0 && int64(info.Config.MaxMsgSize) < limit {
		limit = int64(info.Config.MaxMsgSize)
	}
	return limit
}

// tooLarge reports whether err refuses a message for its size: larger than
// the server's max_payload (the client checks that before sending) or the
// stream's max_msg_size.
func tooLarge(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) || (errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeMessageTooLarge)
}

// eventTooLarge is the answer to an append refused by tooLarge: the same
// event would be refused every time, so it is the client's to change (a
// 413), not the log's to recover from (a 503). It names the event's field
// that takes most of it, as the API spells it, when one does.
func (s *Store) eventTooLarge(ctx context.Context, subj string, body []byte, err error) error {
	limit := s.nc.MaxPayload()
	if !errors.Is(err, nats.ErrMaxPayload) {
		// The stream's max_msg_size, below the server's: ask the stream
		// (only a stream configured so costs a client this call).
		ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
		defer cancel()
		limit = s.EventLimit(ctx)
	}
	e := domain.Errorf(domain.ETOOLARGE,
		"The change is too large for the event log: its event takes %d bytes, and the log takes at most %d, headers included.", len(body), limit)
	if field, size := largestField(body); field != "" && 2*size > len(body) {
		e.Fields = map[string]string{field: fmt.Sprintf("too long for the event log: it takes %d of the event's %d bytes once stored "+
			"(a character outside ASCII takes 2 to 4 bytes, an angle bracket or an ampersand 6, and personal data a third more); shorten it", size, len(body))}
	}
	return fmt.Errorf("append to %s: %w (%w)", subj, e, err)
}

// largestField returns the top-level field of an event's JSON that takes
// the most bytes, and how many; "" when body is not a JSON object.
func largestField(body []byte) (string, int) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return "", 0
	}
	name, size := "", 0
	for k, v := range fields {
		if len(v) > size || (len(v) == size && k < name) {
			name, size = k, len(v)
		}
	}
	return name, size
}
