package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Headers of every event message. Together with the subject they are the
// event's envelope; the body is the event's JSON.
const (
	HeaderEventType        = "Inkwell-Event-Type"
	HeaderSchemaVersion    = "Inkwell-Schema-Version"
	HeaderAggregateType    = "Inkwell-Aggregate-Type"
	HeaderAggregateID      = "Inkwell-Aggregate-Id"
	HeaderAggregateVersion = "Inkwell-Aggregate-Version"
	HeaderOccurredAt       = "Inkwell-Occurred-At"
	HeaderActor            = "Inkwell-Actor"
	HeaderCorrelationID    = "Inkwell-Correlation-Id"
	HeaderContentType      = "Content-Type"
)

// DefaultSubjectPrefix is the prefix of every event subject:
// <prefix>.<aggregate type>.<aggregate id>.
const DefaultSubjectPrefix = "inkwell.events"

// ErrBadStreamID is returned for an aggregate type or id that cannot name a
// stream. Ids come from clients (URL paths), so this is an expected error:
// nothing can exist under such an id.
var ErrBadStreamID = &domain.Error{Code: domain.ENOTFOUND, Message: "Not found."}

func subjectOf(prefix string, s domain.StreamID) (string, error) {
	if !s.Valid() {
		return "", fmt.Errorf("%w: %q", ErrBadStreamID, s.String())
	}
	return prefix + "." + s.Type + "." + s.ID, nil
}

// encodeHeaders returns the envelope headers of one event.
func encodeHeaders(h map[string]string, rec domain.Record) {
	h[HeaderEventType] = rec.Type
	h[HeaderSchemaVersion] = strconv.Itoa(rec.SchemaVersion)
	h[HeaderAggregateType] = rec.Stream.Type
	h[HeaderAggregateID] = rec.Stream.ID
	h[HeaderAggregateVersion] = strconv.FormatUint(rec.Version, 10)
	h[HeaderOccurredAt] = rec.OccurredAt.UTC().Format(time.RFC3339Nano)
	h[HeaderActor] = rec.ActorID
	if rec.CorrelationID != "" {
		h[HeaderCorrelationID] = rec.CorrelationID
	}
	h[HeaderContentType] = "application/json"
}

// RawEvent is one message of the log before its body is decoded.
type RawEvent struct {
	Subject string
	Seq     uint64
	Header  nats.Header
	Data    []byte
	// Keys open the event's personal fields; without them an event with
	// sealed personal fields does not decode (ErrNoDataKeys).
	Keys DataKeys
}

// Decode turns a message of the log into a Record. An event of a type this
// build does not know decodes with a nil Event (and no error) so that readers
// can skip it; a malformed envelope or body is an error.
func (m RawEvent) Decode() (domain.Record, error) {
	rec, err := m.DecodeEnvelope()
	if err != nil {
		return rec, err
	}
	rec.Event, err = domain.DecodeEvent(rec.Type, rec.SchemaVersion, m.Data)
	if errors.Is(err, domain.ErrUnknownEventType) {
		return rec, nil
	} else if err != nil {
		return rec, fmt.Errorf("eventstore: message %d: %w", m.Seq, err)
	}
	if err := openEvent(context.Background(), m.Keys, &rec); err != nil {
		return rec, fmt.Errorf("eventstore: message %d: %w", m.Seq, err)
	}
	return rec, nil
}

// DecodeEnvelope turns a message of the log into a Record without its event
// (Event is nil): the envelope alone, from the headers.
func (m RawEvent) DecodeEnvelope() (domain.Record, error) {
	h := m.Header
	rec := domain.Record{
		ID:            h.Get(jetstream.MsgIDHeader),
		Type:          h.Get(HeaderEventType),
		Stream:        domain.StreamID{Type: h.Get(HeaderAggregateType), ID: h.Get(HeaderAggregateID)},
		Seq:           m.Seq,
		ActorID:       h.Get(HeaderActor),
		CorrelationID: h.Get(HeaderCorrelationID),
	}
	if rec.Type == "" || rec.Stream.Type == "" || rec.Stream.ID == "" {
		return rec, fmt.Errorf("eventstore: message %d on %s has no event envelope", m.Seq, m.Subject)
	}
	var err error
	if rec.SchemaVersion, err = strconv.Atoi(h.Get(HeaderSchemaVersion)); err != nil || rec.SchemaVersion < 1 {
		return rec, fmt.Errorf("eventstore: message %d: schema version %q is not a number from 1", m.Seq, h.Get(HeaderSchemaVersion))
	}
	if rec.Version, err = strconv.ParseUint(h.Get(HeaderAggregateVersion), 10, 64); err != nil || rec.Version < 1 {
		return rec, fmt.Errorf("eventstore: message %d: aggregate version %q is not a number from 1", m.Seq, h.Get(HeaderAggregateVersion))
	}
	if rec.OccurredAt, err = time.Parse(time.RFC3339Nano, h.Get(HeaderOccurredAt)); err != nil || rec.OccurredAt.IsZero() {
		return rec, fmt.Errorf("eventstore: message %d: occurred at %q is not a time", m.Seq, h.Get(HeaderOccurredAt))
	}
	return rec, nil
}

// RedactedJSON returns the JSON body of an event with its sensitive fields
// (such as password hashes) removed, for showing the event outside the system.
func RedactedJSON(eventType string, data []byte) (json.RawMessage, error) {
	spec, ok := domain.LookupEventSpec(eventType)
	if !ok || len(spec.Sensitive) == 0 {
		if !json.Valid(data) {
			return nil, errors.New("eventstore: event body is not JSON")
		}
		return json.RawMessage(data), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("eventstore: redact %s: %w", eventType, err)
	}
	for _, f := range spec.Sensitive {
		delete(obj, f)
	}
	return json.Marshal(obj)
}
