package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// A log can be rewritten into a new stream (inkwell events encrypt seals the
// personal data of a log written before Inkwell did): the copy gets a
// stream and subjects of its own, and the bucket <StreamName>_LOG names the
// log every instance opens from then on. The old stream stays, untouched,
// until the operator deletes it.

// LogPointer names the stream that holds the log and its subject prefix.
type LogPointer struct {
	Stream        string `json:"stream"`
	SubjectPrefix string `json:"subject_prefix"`
}

const logPointerKey = "current"

// readLogPointer reads the pointer of the log configured as base, if it
// was ever switched.
func readLogPointer(ctx context.Context, js jetstream.JetStream, base string, log *slog.Logger) (LogPointer, bool, error) {
	var ptr LogPointer
	var found bool
	err := whileClusterBusy(ctx, log, "read the log's pointer", func() error {
		kv, err := js.KeyValue(ctx, base+"_LOG")
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		e, err := kv.Get(ctx, logPointerKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(e.Value(), &ptr)
	})
	if err != nil {
		return ptr, false, fmt.Errorf("the pointer to the log %s: %w", base, err)
	}
	return ptr, found && ptr.Stream != "", nil
}

// NextLog names the stream and subjects a rewrite of s's log goes to: the
// configured name and prefix with the next generation number (INKWELL_2,
// inkwell.events_2; then _3 ...).
func (s *Store) NextLog() LogPointer {
	n := 2
	if rest, ok := strings.CutPrefix(s.cfg.StreamName, s.base.StreamName+"_"); ok {
		var k int
		if _, err := fmt.Sscan(rest, &k); err == nil {
			n = k + 1
		}
	}
	return LogPointer{Stream: fmt.Sprintf("%s_%d", s.base.StreamName, n), SubjectPrefix: fmt.Sprintf("%s_%d", s.base.SubjectPrefix, n)}
}

// Log names the stream s's log is in.
func (s *Store) Log() LogPointer {
	return LogPointer{Stream: s.cfg.StreamName, SubjectPrefix: s.cfg.SubjectPrefix}
}

// SwitchLog makes the log of dst the one every instance configured like s
// opens from then on. Durable consumers of s's log (the reactors') are made
// on dst's where they stood, so that no reactor handles an event twice.
func (s *Store) SwitchLog(ctx context.Context, dst *Store) error {
	lister := s.stream.ListConsumers(ctx)
	for info := range lister.Info() {
		c := info.Config
		if c.Durable == "" {
			continue // a reader's own, ephemeral
		}
		c.DeliverPolicy, c.OptStartSeq = jetstream.DeliverByStartSequencePolicy, info.AckFloor.Stream+1
		if c.FilterSubject != "" {
			c.FilterSubject = dst.cfg.SubjectPrefix + strings.TrimPrefix(c.FilterSubject, s.cfg.SubjectPrefix)
		}
		for i, f := range c.FilterSubjects {
			c.FilterSubjects[i] = dst.cfg.SubjectPrefix + strings.TrimPrefix(f, s.cfg.SubjectPrefix)
		}
		if _, err := dst.js.CreateOrUpdateConsumer(ctx, dst.cfg.StreamName, c); err != nil {
			return fmt.Errorf("consumer %s on %s: %w", c.Durable, dst.cfg.StreamName, err)
		}
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("the consumers of %s: %w", s.cfg.StreamName, err)
	}
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: s.base.StreamName + "_LOG", Description: "Inkwell: the stream that holds the event log",
		History: 5, Storage: jetstream.FileStorage, Replicas: s.base.Replicas,
	})
	if err != nil {
		return fmt.Errorf("the pointer to the log: %w", err)
	}
	b, _ := json.Marshal(dst.Log())
	if _, err := kv.Put(ctx, logPointerKey, b); err != nil {
		return fmt.Errorf("the pointer to the log: %w", err)
	}
	return nil
}

// Delete removes the stream of s's log, all of it (a rewrite's leftover).
func (s *Store) Delete(ctx context.Context) error {
	if err := s.js.DeleteStream(ctx, s.cfg.StreamName); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete stream %s: %w", s.cfg.StreamName, err)
	}
	return nil
}
