package eventstore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamReplicas is how many copies a cluster keeps of one stream Inkwell
// created.
type StreamReplicas struct {
	Name     string
	Replicas int
}

// ownStreams lists the streams of the log named stream: the log itself, and
// those of its buckets and dead letters (named after it: <stream>_..., and a
// bucket B's stream is KV_B).
func ownStreams(ctx context.Context, nc *nats.Conn, stream string) (jetstream.JetStream, []jetstream.Stream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, err
	}
	var out []jetstream.Stream
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		if name == stream || strings.HasPrefix(name, stream+"_") || strings.HasPrefix(name, "KV_"+stream+"_") {
			s, err := js.Stream(ctx, name)
			if err != nil {
				return nil, nil, fmt.Errorf("stream %s: %w", name, err)
			}
			out = append(out, s)
		}
	}
	if err := names.Err(); err != nil {
		return nil, nil, fmt.Errorf("list streams: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CachedInfo().Config.Name < out[j].CachedInfo().Config.Name })
	return js, out, nil
}

// Replicas reports the replicas of the log named stream and of every
// stream of its buckets.
func Replicas(ctx context.Context, nc *nats.Conn, stream string) ([]StreamReplicas, error) {
	_, streams, err := ownStreams(ctx, nc, stream)
	if err != nil {
		return nil, err
	}
	out := make([]StreamReplicas, 0, len(streams))
	for _, s := range streams {
		c := s.CachedInfo().Config
		out = append(out, StreamReplicas{Name: c.Name, Replicas: c.Replicas})
	}
	return out, nil
}

// ChangeReplicas sets the replicas of the log named stream and of every
// stream of its buckets to n: JetStream copies each to the new peers (or
// drops the extra copies) while it goes on serving. It returns the streams
// it changed, with their replicas before.
func ChangeReplicas(ctx context.Context, nc *nats.Conn, stream string, n int) ([]StreamReplicas, error) {
	js, streams, err := ownStreams(ctx, nc, stream)
	if err != nil {
		return nil, err
	}
	var changed []StreamReplicas
	for _, s := range streams {
		c := s.CachedInfo().Config
		if c.Replicas == n {
			continue
		}
		before := c.Replicas
		c.Replicas = n
		if _, err := js.UpdateStream(ctx, c); err != nil {
			return changed, fmt.Errorf("stream %s: %d replicas: %w", c.Name, n, err)
		}
		changed = append(changed, StreamReplicas{Name: c.Name, Replicas: before})
	}
	return changed, nil
}
