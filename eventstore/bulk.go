package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// AppendBulk stores records at the end of the log, in order, as fast as
// JetStream takes them: publishes are asynchronous and carry no
// expected-sequence condition. It is for loading large logs in tests and
// benchmarks, never for commands: nothing checks that a record's version
// follows its stream's last one. Each record keeps its ID (a new one when
// empty), type, stream, version, time (now when zero), actor and
// correlation id; Seq is ignored. On failure some of the records may have been stored.
func (s *Store) AppendBulk(ctx context.Context, recs []domain.Record) error {
	const window = 2000 // below the client's default limit of pending async publishes
	futures := make([]jetstream.PubAckFuture, 0, window)
	wait := func() error {
		select {
		case <-s.js.PublishAsyncComplete():
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("append bulk to %s: %w", f.Msg().Subject, err)
			}
		}
		futures = futures[:0]
		return nil
	}
	for _, rec := range recs {
		subj, err := s.Subject(rec.Stream)
		if err != nil {
			return err
		}
		if rec.ID == "" {
			if rec.ID, err = newEventID(); err != nil {
				return err
			}
		}
		if rec.Type == "" {
			rec.Type = rec.Event.EventType()
		}
		if rec.ActorID == "" {
			rec.ActorID = domain.SystemActorID
		}
		if rec.SchemaVersion == 0 {
			rec.SchemaVersion = domain.SchemaVersionOf(rec.Event)
		}
		if rec.OccurredAt.IsZero() {
			rec.OccurredAt = time.Now() // as Append does: a record has a time
		}
		body, err := sealEvent(ctx, s.keys, rec)
		if err != nil {
			return fmt.Errorf("append bulk: encode %s: %w", rec.Type, err)
		}
		h := map[string]string{}
		encodeHeaders(h, rec)
		m := nats.NewMsg(subj)
		m.Data = body
		for k, v := range h {
			m.Header.Set(k, v)
		}
		m.Header.Set(jetstream.MsgIDHeader, rec.ID)
		f, err := s.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("append bulk to %s: %w", subj, err)
		}
		futures = append(futures, f)
		if len(futures) == window {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return wait()
}
