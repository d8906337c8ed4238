package eventstore_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
	"inkwell/eventstore"
)

// FuzzDecodeEvent feeds the decoder of the log's messages arbitrary
// envelope headers and bodies. Nothing panics; a message either decodes
// into a whole record (an envelope with a type, a stream, versions from 1
// and a time, and for a type this build knows an event of that type, which
// encodes and decodes to itself) or is an error with no event at all.
func FuzzDecodeEvent(f *testing.F) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, e := range []domain.Event{
		&domain.UserRegistered{UserID: "u1", Username: "john", Email: "john@example.com", PasswordHash: "h", IsActive: true, DateJoined: now},
		&domain.ArticleCreated{ArticleID: "a1", Title: "Go", Slug: "go", AuthorID: "u1", Tags: []string{"t1"}, CreatedAt: now},
		&domain.TagCreated{TagID: "t1", Name: "Go", Slug: "go", CreatedAt: now},
	} {
		body, err := json.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(e.EventType(), "1", "x", "id-1", "1", now.Format(time.RFC3339Nano), body)
	}
	f.Add("user.registered", "1", "user", "u1", "0", "2026-05-01T10:00:00Z", []byte(`{}`))
	f.Add("article.created", "-1", "article", "a1", "1", "2026-05-01T10:00:00Z", []byte(`{"article_id": null}`))
	f.Add("no.such.event", "1", "thing", "t1", "18446744073709551615", "yesterday", []byte(`not json`))
	f.Fuzz(func(t *testing.T, typ, schema, aggType, aggID, version, at string, body []byte) {
		h := nats.Header{}
		h.Set(jetstream.MsgIDHeader, "m1")
		h.Set(eventstore.HeaderEventType, typ)
		h.Set(eventstore.HeaderSchemaVersion, schema)
		h.Set(eventstore.HeaderAggregateType, aggType)
		h.Set(eventstore.HeaderAggregateID, aggID)
		h.Set(eventstore.HeaderAggregateVersion, version)
		h.Set(eventstore.HeaderOccurredAt, at)
		rec, err := eventstore.RawEvent{Subject: "events.x", Seq: 7, Header: h, Data: body}.Decode()
		if err != nil {
			if rec.Event != nil {
				t.Fatalf("an error with a half-built event %#v: %v", rec.Event, err)
			}
			return
		}
		if rec.Type == "" || rec.Stream.Type == "" || rec.Stream.ID == "" || rec.Version < 1 || rec.SchemaVersion < 1 || rec.OccurredAt.IsZero() {
			t.Fatalf("a partial envelope decoded: %+v", rec)
		}
		spec, known := domain.LookupEventSpec(rec.Type)
		if !known {
			if rec.Event != nil {
				t.Fatalf("an event of unknown type %q: %#v", rec.Type, rec.Event)
			}
			return
		}
		if rec.Event == nil || rec.Event.EventType() != rec.Type {
			t.Fatalf("type %q decoded as %#v", rec.Type, rec.Event)
		}
		again, err := json.Marshal(rec.Event)
		if err != nil {
			t.Fatalf("the decoded event does not encode: %v", err)
		}
		e2, err := domain.DecodeEvent(rec.Type, spec.Version, again)
		if err != nil {
			t.Fatalf("the decoded event does not decode again: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(e2, rec.Event) {
			t.Fatalf("decode, encode, decode changed the event:\n%#v\n%#v", rec.Event, e2)
		}
	})
}
