package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNoMultiGet says the server does not know JetStream's batched direct
// get (NATS before 2.11): the caller reads one subject at a time.
var errNoMultiGet = errors.New("the server has no batched direct get")

// lastGetter asks for the last message of several subjects in one round
// trip: JetStream's batched direct get ("multi_last", NATS 2.11+), which
// answers with one message per subject that has any, then an end-of-batch
// status, all from one consistent view of the stream. The answers come on
// one wildcard inbox subscription shared by every request (opened at first
// use), each request told apart by the last token of its reply subject.
type lastGetter struct {
	nc      *nats.Conn
	subject string // $JS.API.DIRECT.GET.<stream>

	once    sync.Once
	openErr error
	prefix  string // the inbox; replies go to prefix.<n>

	mu      sync.Mutex
	next    uint64
	waiting map[string]chan *nats.Msg

	// unsupported is set when the server answered that it does not know
	// the request (or is older than 2.11): from then on Load is used.
	unsupported atomic.Bool
	// sent counts the last messages the server sent (what lastSince
	// spares shows here).
	sent atomic.Uint64
}

func newLastGetter(nc *nats.Conn, stream string, direct bool) *lastGetter {
	g := &lastGetter{nc: nc, subject: "$JS.API.DIRECT.GET." + stream, waiting: map[string]chan *nats.Msg{}}
	if !direct || !versionAtLeast(nc.ConnectedServerVersion(), "2.11.0") {
		g.unsupported.Store(true)
	}
	return g
}

func (g *lastGetter) open() error {
	g.once.Do(func() {
		g.prefix = g.nc.NewInbox()
		_, g.openErr = g.nc.Subscribe(g.prefix+".*", g.deliver)
	})
	return g.openErr
}

// deliver hands a reply to the request waiting for it. The channel has room
// for every message a request can be sent (one per subject, then the end of
// the batch), so this never blocks; a reply for a request that gave up is
// dropped.
func (g *lastGetter) deliver(m *nats.Msg) {
	token := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	g.mu.Lock()
	ch := g.waiting[token]
	g.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default:
		}
	}
}

// lastSince returns the last message of each subject that has one (absent
// subjects have no entry), or errNoMultiGet, for subjects of which the
// process may already hold a part: held[i] is the log sequence of the last
// event of subjects[i] it holds (0: none). The server is asked to leave out every subject whose last message
// comes before the least of them (the request's start sequence, which the
// batched get honours since NATS 2.11): current[i] says that subjects[i]
// was left out for that reason, so its stream ends where the process holds
// it, and nothing of it crossed the wire. Why this is sound: the server
// leaves out subject i only if its last sequence is below min(held)+1, so at
// most min(held) <= held[i]; and a log does not lose what the process read
// from it, so that sequence is at least held[i]: it is held[i]. A subject
// left out whose held sequence is above the least would be a log that
// stands before what was read from it: the request is made again without a
// start.
func (g *lastGetter) lastSince(ctx context.Context, subjects []string, held []uint64) (map[string]*jetstream.RawStreamMsg, []bool, error) {
	current := make([]bool, len(subjects))
	from := uint64(0)
	if len(held) > 0 {
		if least := slices.Min(held); least > 0 {
			from = least + 1
		}
	}
	msgs, err := g.lastFrom(ctx, subjects, from)
	if err != nil || from == 0 {
		return msgs, current, err
	}
	for i, subj := range subjects {
		if _, sent := msgs[subj]; sent {
			continue
		}
		if held[i] != from-1 {
			msgs, err = g.lastFrom(ctx, subjects, 0)
			return msgs, make([]bool, len(subjects)), err
		}
		current[i] = true
	}
	return msgs, current, nil
}

// lastFrom returns the last message of each subject that has one, leaving
// out the subjects whose last message comes before the log sequence from
// (0: none left out), or errNoMultiGet.
func (g *lastGetter) lastFrom(ctx context.Context, subjects []string, from uint64) (map[string]*jetstream.RawStreamMsg, error) {
	req := struct {
		MultiLast []string `json:"multi_last"`
		Batch     int      `json:"batch"`
		From      uint64   `json:"seq,omitempty"`
	}{subjects, len(subjects), from}
	out := make(map[string]*jetstream.RawStreamMsg, len(subjects))
	err := g.batch(ctx, req, len(subjects), func(m *nats.Msg, seq uint64) error {
		subj := m.Header.Get(jetstream.SubjectHeader)
		if subj == "" {
			return fmt.Errorf("batched direct get: a reply without subject")
		}
		out[subj] = &jetstream.RawStreamMsg{Subject: subj, Sequence: seq, Header: m.Header, Data: m.Data}
		g.sent.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batch sends one batched direct get request (req, answered by at most n
// messages) and hands each message of its answer, with its sequence, to
// each, until the end of the batch: a 204, or a 404 when no message
// matches. A 408 (a server that ignored the batch's fields saw an empty
// request) marks the server unable (errNoMultiGet, as before NATS 2.11).
func (g *lastGetter) batch(ctx context.Context, req any, n int, each func(m *nats.Msg, seq uint64) error) error {
	if g.unsupported.Load() {
		return errNoMultiGet
	}
	if err := g.open(); err != nil {
		return err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
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
	if err := g.nc.PublishRequest(g.subject, g.prefix+"."+token, body); err != nil {
		return err
	}
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch status := m.Header.Get("Status"); status {
			case "204", "404": // the end of the batch; no message matches
				return nil
			case "408":
				g.unsupported.Store(true)
				return errNoMultiGet
			case "503":
				return nats.ErrNoResponders
			default:
				return fmt.Errorf("batched direct get: status %s %s", status, m.Header.Get("Description"))
			}
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return fmt.Errorf("batched direct get: a reply without sequence")
		}
		if err := each(m, seq); err != nil {
			return err
		}
	}
}
