package eventstore

import (
	"encoding/json"
	"fmt"
	"time"

	"inkwell/domain"
)

// EventView is an event as Inkwell shows it to programs that follow the
// log over HTTP (Server-Sent Events) or the command line: its envelope and
// its data, without sensitive fields such as password hashes.
type EventView struct {
	Seq           uint64          `json:"seq"`
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Aggregate     AggregateRef    `json:"aggregate"`
	Version       uint64          `json:"version"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Actor         string          `json:"actor"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// AggregateRef names the aggregate an event belongs to.
type AggregateRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// View returns the public view of a record. An event of a type this build
// does not know has null data.
func View(rec domain.Record) (EventView, error) {
	v := EventView{
		Seq: rec.Seq, ID: rec.ID, Type: rec.Type, SchemaVersion: rec.SchemaVersion,
		Aggregate: AggregateRef{Type: rec.Stream.Type, ID: rec.Stream.ID}, Version: rec.Version,
		OccurredAt: rec.OccurredAt.UTC(), Actor: rec.ActorID, CorrelationID: rec.CorrelationID,
		Data: json.RawMessage("null"),
	}
	if rec.Event == nil {
		return v, nil
	}
	body, err := json.Marshal(rec.Event)
	if err != nil {
		return v, fmt.Errorf("view of event %d: %w", rec.Seq, err)
	}
	if v.Data, err = RedactedJSON(rec.Type, body); err != nil {
		return v, fmt.Errorf("view of event %d: %w", rec.Seq, err)
	}
	return v, nil
}
