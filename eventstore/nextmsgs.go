package eventstore

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// after returns the messages of subject subj from the sequence from on, at
// most as many as from..to holds and snapshotFetchBatch, in one round trip:
// JetStream's batched direct get ("next_by_subj" with "batch", NATS 2.11+),
// which answers with the messages, then an end-of-batch status (or a 404
// when there is none). It fails with errNoMultiGet where the server cannot.
func (g *lastGetter) after(ctx context.Context, subj string, from, to uint64) ([]*jetstream.RawStreamMsg, error) {
	n := int(min(to-from+1, snapshotFetchBatch))
	req := struct {
		Seq      uint64 `json:"seq"`
		NextFor  string `json:"next_by_subj"`
		Batch    int    `json:"batch"`
		MaxBytes int    `json:"max_bytes"`
	}{from, subj, n, snapshotFetchBytes}
	out := make([]*jetstream.RawStreamMsg, 0, n)
	err := g.batch(ctx, req, n, func(m *nats.Msg, seq uint64) error {
		out = append(out, &jetstream.RawStreamMsg{Subject: subj, Sequence: seq, Header: m.Header, Data: m.Data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
