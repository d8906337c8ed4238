package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TargetNotEmptyError is returned by RestoreBackup when NATS already holds
// streams of the log: a backup restores only into a NATS without them.
type TargetNotEmptyError struct {
	Streams []string
}

func (e *TargetNotEmptyError) Error() string {
	return fmt.Sprintf("NATS already holds Inkwell's streams (%s): a backup restores only into a NATS without them", strings.Join(e.Streams, ", "))
}

// CheckEmpty returns a *TargetNotEmptyError if NATS holds streams of the
// log configured as stream (the log, its buckets, its dead letters).
func CheckEmpty(ctx context.Context, nc *nats.Conn, stream string) error {
	_, existing, err := ownStreams(ctx, nc, stream)
	if err != nil {
		return err
	}
	if len(existing) == 0 {
		return nil
	}
	e := &TargetNotEmptyError{}
	for _, s := range existing {
		e.Streams = append(e.Streams, s.CachedInfo().Config.Name)
	}
	return e
}

// RestoreOptions tunes RestoreBackup.
type RestoreOptions struct {
	// Replicas is how many copies a cluster keeps of each restored stream
	// (default 1).
	Replicas int
	// Verified says that the caller verified the backup (Verify) already.
	Verified bool
	// Progress, if set, is called after each stream is restored.
	Progress func(RestoredStream)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RestoredStream describes a stream RestoreBackup restored.
type RestoredStream struct {
	Name, Role                         string
	Messages, FirstSeq, LastSeq, Bytes uint64
	Took                               time.Duration
}

// RestoreBackup restores every stream of b (verified first: Verify) into
// the NATS nc reaches, which must hold none of the log's streams
// (*TargetNotEmptyError). Each keeps its config, but for the replicas of
// opts. A restore that fails removes the streams it restored, so that NATS
// is as empty as before.
func RestoreBackup(ctx context.Context, nc *nats.Conn, b *BackupDir, opts RestoreOptions) (out []RestoredStream, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Replicas = max(opts.Replicas, 1)
	m := &b.Manifest
	if err := CheckServer(ctx, nc); err != nil {
		return nil, err
	}
	if v := nc.ConnectedServerVersion(); !versionAtLeast(v, m.NATSServer) {
		return nil, fmt.Errorf("the backup was taken from NATS %s, whose snapshots an earlier server may not read; this one is %s: restore into NATS %s or later",
			m.NATSServer, v, m.NATSServer)
	}
	if err := CheckEmpty(ctx, nc, m.StreamName); err != nil {
		return nil, err
	}
	if !opts.Verified {
		if err := b.Verify(); err != nil {
			return nil, err
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		// Leave NATS as it was: without the streams of a restore that
		// did not finish.
		cleanup := context.WithoutCancel(ctx)
		for _, r := range out {
			if derr := js.DeleteStream(cleanup, r.Name); derr != nil && !errors.Is(derr, jetstream.ErrStreamNotFound) {
				err = fmt.Errorf("%w; and the stream %s it restored could not be removed (%v): remove it before restoring again", err, r.Name, derr)
			}
		}
		out = nil
	}()
	for _, sb := range m.Streams {
		r, err := b.restoreOne(ctx, nc, sb, opts)
		if r.Name != "" {
			out = append(out, r)
		}
		if err != nil {
			return out, err
		}
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	return out, nil
}

// restoreOne restores one stream; a stream created before its restore
// failed is returned to be removed.
func (b *BackupDir) restoreOne(ctx context.Context, nc *nats.Conn, sb StreamBackup, opts RestoreOptions) (RestoredStream, error) {
	start := opts.Now()
	config, state, err := b.meta(sb)
	if err != nil {
		return RestoredStream{}, fmt.Errorf("the backup's stream %s: %w", sb.Name, err)
	}
	if config, err = withReplicas(config, sb.Role, opts.Replicas); err != nil {
		return RestoredStream{}, fmt.Errorf("the backup's stream %s: %w", sb.Name, err)
	}
	f, err := os.Open(filepath.Join(b.Dir, filepath.FromSlash(sb.Dir), dataFile))
	if err != nil {
		return RestoredStream{}, err
	}
	defer f.Close()
	got, err := restoreStream(ctx, nc, sb.Name, config, state, f)
	r := RestoredStream{Name: sb.Name, Role: sb.Role, Messages: got.Msgs, FirstSeq: got.FirstSeq, LastSeq: got.LastSeq, Bytes: got.Bytes, Took: opts.Now().Sub(start)}
	if err != nil {
		// The server may have made the stream before it failed.
		return r, err
	}
	// The restored stream ends where the snapshot's did (its sequences
	// go on from there), and the log holds every message it had.
	if got.LastSeq != sb.LastSeq || sb.Role == RoleLog && (got.Msgs != sb.Messages || got.FirstSeq != sb.FirstSeq) {
		return r, fmt.Errorf("the restored stream %s holds %d messages, sequences %d to %d; the backup %d, %d to %d",
			sb.Name, got.Msgs, got.FirstSeq, got.LastSeq, sb.Messages, sb.FirstSeq, sb.LastSeq)
	}
	return r, nil
}

// withReplicas sets the replicas of a stream's config. A replicated
// stream is read through its leader (a replica catching up would answer a
// direct get with what it has: see Open and openBucket), a stream of one
// replica directly, as Inkwell makes them.
func withReplicas(config json.RawMessage, role string, replicas int) (json.RawMessage, error) {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("its config: %w", err)
	}
	c["num_replicas"], _ = json.Marshal(replicas)
	if role != RoleDeadLetters {
		c["allow_direct"], _ = json.Marshal(replicas == 1)
	}
	return json.Marshal(c)
}
