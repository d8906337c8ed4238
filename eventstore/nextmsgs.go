package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// after returns the messages of subject subj from the sequence from on, at
// most as many as from..to holds and snapshotFetchBatch, in one round trip:
// JetStream's batched direct get ("next_by_subj" with "batch", NATS 2.11+),
// which answers with the messages, then an end-of-batch status (or a 404
// when there is none). It fails with errNoMultiGet where the server cannot.
func (g *lastGetter) after(ctx context.Context, subj string, from, to uint64) ([]*jetstream.RawStreamMsg, error) {
	if g.unsupported.Load() {
		return nil, errNoMultiGet
	}
	if err := g.open(); err != nil {
		return nil, err
	}
	n := int(min(to-from+1, snapshotFetchBatch))
	req, err := json.Marshal(struct {
		Seq      uint64 `json:"seq"`
		NextFor  string `json:"next_by_subj"`
		Batch    int    `json:"batch"`
		MaxBytes int    `json:"max_bytes"`
	}{from, subj, n, snapshotFetchBytes})
	if err != nil {
		return nil, err
	}
	ch := make(chan *nats.Msg, n+1)
	g.mu.Lock()
	g.next++
	token := strconv.FormatUint(g.next, 36)
	g.waiting[token] = ch
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.waiting, token)
		g.mu.Unlock()
	}()
	if err := g.nc.PublishRequest(g.subject, g.prefix+"."+token, req); err != nil {
		return nil, err
	}
	out := make([]*jetstream.RawStreamMsg, 0, n)
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch status := m.Header.Get("Status"); status {
			case "204", "404": // the end of the batch; no message
				return out, nil
			case "503":
				return nil, nats.ErrNoResponders
			default:
				return nil, fmt.Errorf("batched direct get: status %s %s", status, m.Header.Get("Description"))
			}
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("batched direct get: a reply without sequence")
		}
		out = append(out, &jetstream.RawStreamMsg{Subject: subj, Sequence: seq, Header: m.Header, Data: m.Data})
	}
}
