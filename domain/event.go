package domain

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Event is a fact that happened to one aggregate. Its type name is persisted
// in the log and never changes; a new shape of an event is a new schema
// version of the same type, with an upcaster from the previous one.
type Event interface {
	EventType() string
}

// StreamID names the stream of one aggregate instance in the log.
type StreamID struct {
	Type string // aggregate type, e.g. "user"
	ID   string // aggregate id, a UUID or a claim key
}

// ValidID reports whether s is an aggregate id as Inkwell writes them: a
// UUID in its 36-character form (8-4-4-4-12 hexadecimal digits).
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// Valid reports whether s can name a stream: a type and an id of 1 to 128
// letters, digits, '-' or '_' each (one token of a NATS subject each).
// Ids come from clients (URL paths): nothing exists under an invalid one.
func (s StreamID) Valid() bool { return validToken(s.Type) && validToken(s.ID) }

func validToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// String returns "type/id".
func (s StreamID) String() string { return s.Type + "/" + s.ID }

// Aggregate types. They are part of the log's subject scheme.
const (
	AggregateUser     = "user"
	AggregateArticle  = "article"
	AggregateCategory = "category"
	AggregateTag      = "tag"
	AggregateSession  = "session"
	AggregateClaim    = "claim"
)

// Record is an event as it stands in the log, with its envelope.
type Record struct {
	ID            string    // event id (UUID v7); also the log's dedupe id
	Type          string    // event type name
	SchemaVersion int       // schema version the event was written with
	Stream        StreamID  // the aggregate it belongs to
	Version       uint64    // position in the aggregate's stream, from 1, gapless
	Seq           uint64    // position in the whole log
	OccurredAt    time.Time // when the command was decided
	ActorID       string    // user id of whoever caused it, or "system"
	CorrelationID string    // request id of the command that caused it
	Event         Event     // decoded (and upcast) event; nil when the type is unknown
	// Erased is set when the event's personal fields read Erased: the data
	// key of the person it is about was destroyed (see UserErased).
	Erased bool
}

// Erased is what every personal field of an event reads once the person it
// is about is erased: their data key is destroyed, and what the log holds of
// them can no longer be read by anyone.
const Erased = "[erased]"

// EventSpec describes one event type for encoding and decoding.
type EventSpec struct {
	Type    string       // persisted name
	Version int          // schema version written today
	New     func() Event // returns a pointer to a zero event for decoding
	// Upcast turns the JSON of schema version v (the key) into version v+1.
	Upcast map[int]func(json.RawMessage) (json.RawMessage, error)
	// Sensitive lists JSON fields that must never leave the system, for
	// example in the event stream shown to followers.
	Sensitive []string
	// Personal lists the JSON fields that are data about a person (a
	// username, an email, names, a bio, an avatar, a password hash, a
	// client's user agent): each is declared beside its field, with the
	// struct tag personal:"true". From schema version SealedFrom on, the
	// log holds them sealed with the data key of the user the event is
	// about: the user's own for a user's event, else the one Subject names.
	Personal   []string
	SealedFrom int
	// Subject is the JSON field naming the user an event of another
	// aggregate than the user's is about (tagged subject:"true"), or "".
	Subject string

	fields []eventField // the JSON fields every event of the type carries
}

// eventField is a JSON field an event always has (one without omitempty):
// its name, and whether null is a value of it (a pointer, slice or map).
type eventField struct {
	name     string
	nullable bool
}

// eventFields lists the fields of struct type t that json.Marshal always
// writes.
func eventFields(t reflect.Type) []eventField {
	var out []eventField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && f.Type.Kind() == reflect.Struct && tag == "" {
			out = append(out, eventFields(f.Type)...)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "-" || strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,") {
			continue
		}
		if name == "" {
			name = f.Name
		}
		switch f.Type.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			out = append(out, eventField{name, true})
		default:
			out = append(out, eventField{name, false})
		}
	}
	return out
}

// EventTypes lists every known event type, in EventSpecs's order.
func EventTypes() []string {
	specs := EventSpecs()
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Type
	}
	return out
}

// EventSpecs returns the specs of every known event type, in the
// catalogue's order (those of any aggregate last).
func EventSpecs() []EventSpec {
	out := make([]EventSpec, 0, len(eventSpecs))
	for _, a := range aggregates {
		for _, s := range a.Events {
			out = append(out, eventSpecs[s.Type])
		}
	}
	for _, s := range anyAggregate {
		out = append(out, eventSpecs[s.Type])
	}
	return out
}

// LookupEventSpec returns the spec of an event type.
func LookupEventSpec(eventType string) (EventSpec, bool) {
	s, ok := eventSpecs[eventType]
	return s, ok
}

// SchemaVersionOf returns the schema version an event is written with.
func SchemaVersionOf(e Event) int {
	if s, ok := eventSpecs[e.EventType()]; ok {
		return s.Version
	}
	return 1
}

// ErrUnknownEventType is wrapped by DecodeEvent for a type this build does not know.
var ErrUnknownEventType = fmt.Errorf("unknown event type")

// DecodeEvent decodes the JSON of an event written with the given schema
// version, upcasting it to the current version first.
func DecodeEvent(eventType string, version int, data []byte) (Event, error) {
	spec, ok := eventSpecs[eventType]
	if !ok {
		return nil, fmt.Errorf("decode %q: %w", eventType, ErrUnknownEventType)
	}
	if version > spec.Version {
		return nil, fmt.Errorf("decode %q: schema version %d is newer than this build's %d", eventType, version, spec.Version)
	}
	raw := json.RawMessage(data)
	for v := version; v < spec.Version; v++ {
		up, ok := spec.Upcast[v]
		if !ok {
			return nil, fmt.Errorf("decode %q: no upcaster from schema version %d", eventType, v)
		}
		var err error
		if raw, err = up(raw); err != nil {
			return nil, fmt.Errorf("decode %q: upcast from %d: %w", eventType, v, err)
		}
	}
	// Every field the type always carries must be there, so that a
	// truncated or hand-made body is an error rather than an event with
	// zero values where its data should be. Fields this build does not know
	// are ignored (a tolerant reader).
	if err := spec.checkFields(eventType, raw); err != nil {
		return nil, err
	}
	e := spec.New()
	if err := json.Unmarshal(raw, e); err != nil {
		if err := spec.checkFieldsSlowly(eventType, raw); err != nil {
			return nil, err // what the body is not, said as before
		}
		return nil, fmt.Errorf("decode %q: %w", eventType, err)
	}
	return e, nil
}

// Position is where an aggregate's stream stands in the log: the log sequence
// and the aggregate version of its last event; zero for a stream with no events.
type Position struct {
	Seq     uint64
	Version uint64
}

// Meta is the part of an event's envelope that the command supplies.
type Meta struct {
	ActorID       string
	CorrelationID string
	OccurredAt    time.Time
}

// NewRecord returns the record of event ev as an event log stores it (but
// for its log sequence, which the log gives): the next event of stream s,
// which stands at pos, with id evID, caused as meta says (an unset actor is
// the system; meta.OccurredAt must be set).
func NewRecord(evID string, s StreamID, pos Position, meta Meta, ev Event) Record {
	actor := meta.ActorID
	if actor == "" {
		actor = SystemActorID
	}
	return Record{
		ID: evID, Type: ev.EventType(), SchemaVersion: SchemaVersionOf(ev), Stream: s, Version: pos.Version + 1,
		OccurredAt: meta.OccurredAt.UTC(), ActorID: actor, CorrelationID: meta.CorrelationID, Event: ev,
	}
}

// CreationAbandoned fences off an aggregate id whose creation never
// completed: the process stopped after claiming a unique value (a username,
// a slug) for that id but before recording the aggregate's first event. Once
// it is the first event of a stream, nothing can be created there, so the
// claim can safely pass to someone else.
type CreationAbandoned struct {
	Reason string `json:"reason"`
}

// EventType implements Event.
func (*CreationAbandoned) EventType() string { return "aggregate.creation_abandoned" }

// Abandon decides to fence off a stream that has no events.
func Abandon(pos Position, reason string) (Event, error) {
	if pos.Version > 0 {
		return nil, Errorf(ECONFLICT, "the stream has events")
	}
	return &CreationAbandoned{Reason: reason}, nil
}
