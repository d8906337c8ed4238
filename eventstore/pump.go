// The cursor's pump: the consumer's messages selected, gaps and a read's end noticed.

package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// idleWait is how long a cursor from Read waits for a message before it
// asks the log whether one is still to come (see ahead).
const idleWait = 250 * time.Millisecond

func (c *Cursor) pump() {
	defer close(c.ch)
	var skipped uint64
	// look is set when the server may have nothing more to deliver before
	// the end: the cursor asks the log before it waits again.
	look := false
	// quietSince is when the log, asked, first held a message before the
	// end that the consumer had not delivered; zero while it delivers.
	var quietSince time.Time
	remakes := 0
	for {
		if c.bounded && c.next > c.end {
			c.send(item{err: io.EOF, raw: skipped})
			return
		}
		if c.bounded && look {
			look = false
			held, answered := c.ahead()
			if answered && held == 0 {
				// What the server cannot deliver before the end is lost.
				if c.gap(c.next, c.end) {
					c.send(item{err: io.EOF, raw: skipped})
				}
				return
			}
			switch {
			case !answered:
			case quietSince.IsZero():
				quietSince = time.Now()
			case time.Since(quietSince) >= c.stallAfter:
				if !c.stalled(held, &remakes) {
					return
				}
				quietSince = time.Time{}
			}
		}
		var opts []jetstream.NextOpt
		if c.bounded {
			opts = append(opts, jetstream.NextMaxWait(idleWait))
		}
		m, err := c.iterator().Next(opts...)
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if errors.Is(err, nats.ErrTimeout) {
				look = true
				continue
			}
			// Heartbeat and reconnect errors are transient: the ordered
			// consumer recreates itself and resumes after the last delivered
			// message.
			select {
			case <-c.done:
				return
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		quietSince, remakes = time.Time{}, 0
		md, err := m.Metadata()
		if err == nil {
			c.pending.Store(md.NumPending)
			seq := md.Sequence.Stream
			if c.bounded && seq > c.end {
				// Appended after Read: not delivered; the sequences
				// before it that did not come are lost.
				if c.gap(c.next, c.end) {
					c.send(item{err: io.EOF, raw: skipped})
				}
				return
			}
			if seq > c.next && c.gapCheck && !c.gap(c.next, seq-1) {
				return
			}
			c.next = max(c.next, seq+1)
			// The server counts what it holds from its index, lost
			// messages included: nothing pending is worth a look now,
			// something pending may never come.
			look = md.NumPending == 0
		}
		if c.match != nil && !matchesAny(c.match, m.Subject()) {
			skipped++
			if err == nil {
				c.through.Store(md.Sequence.Stream)
			}
			continue
		}
		it := item{raw: skipped + 1, subject: m.Subject()}
		skipped = 0
		if err != nil {
			it.err = fmt.Errorf("follow: message metadata: %w", err)
		} else if raw := (RawEvent{Subject: m.Subject(), Seq: md.Sequence.Stream, Header: m.Headers(), Data: m.Data(), Keys: c.keys}); c.envelopes {
			it.rec, it.err = raw.DecodeEnvelope()
		} else {
			it.rec, it.err = raw.Decode()
		}
		if !c.send(it) {
			return
		}
		if err == nil {
			c.through.Store(md.Sequence.Stream)
		}
	}
}

// send hands it to Next; false if the cursor was closed.
func (c *Cursor) send(it item) bool {
	select {
	case c.ch <- it:
		return true
	case <-c.done:
		return false
	}
}

// gap reports the sequences first..last, which the server did not deliver,
// as a *GapError (unless their loss was accepted, or there are none); false
// if the cursor was closed meanwhile.
func (c *Cursor) gap(first, last uint64) bool {
	if first > last {
		return true
	}
	err := error(&GapError{First: first, Last: last})
	if c.accepted != nil {
		ctx, cancel := c.opContext()
		ok, aerr := c.accepted(ctx, first, last)
		cancel()
		switch {
		case aerr != nil:
			err = fmt.Errorf("%w (whether its loss was accepted cannot be read now: %v)", err, aerr)
		case ok:
			return true
		}
	}
	return c.send(item{err: err})
}

// ahead asks the log for its first message at or after the next sequence
// and up to the end: held is its sequence, 0 when there is none (the
// cursor has drained what the log holds); answered is false when the log
// does not answer.
func (c *Cursor) ahead() (held uint64, answered bool) {
	if c.lookup == nil {
		return 0, false
	}
	ctx, cancel := c.opContext()
	defer cancel()
	seq, err := c.lookup(ctx, c.next)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, true
	case err != nil:
		return 0, false
	case seq > c.end:
		return 0, true
	}
	return seq, true
}

// stallBound is how long a cursor from Read waits for a message that the
// log holds before the cursor's end before it makes its consumer again.
//
// The cluster places a cursor's consumer (one replica) on any node holding
// a copy of the log, and a consumer delivers only what its node's copy
// holds: a node that restarted may lag, or stay stuck, while the log's
// leader has the messages. A new consumer is placed afresh.
const stallBound = 5 * time.Second

// maxRemakes is how many new consumers in a row a stalled cursor makes
// before it gives up (Next returns ErrCursorStalled): with three copies of
// the log and one stuck, the odds that each lands on it again are 1 in 27.
const maxRemakes = 3

// stalled makes the cursor's consumer again from the next sequence, for one
// that delivered nothing for stallAfter while the log held the message at
// held (see stallBound), counting in remakes how many it made in a row. It
// returns false when the pump must end: the cursor was closed, or it gave
// up (Next returns ErrCursorStalled).
func (c *Cursor) stalled(held uint64, remakes *int) bool {
	if *remakes >= maxRemakes {
		c.send(item{err: unavailable(fmt.Errorf("the log holds sequence %d, which %d new consumers in a row did not deliver: %w", held, *remakes, ErrCursorStalled))})
		return false
	}
	*remakes++
	old := c.consumer().CachedInfo()
	ctx, cancel := c.opContext()
	defer cancel()
	cons, it, err := c.remake(ctx, c.next)
	if err != nil {
		c.log.Warn("the log's consumer delivers nothing, and a new one cannot be made now", "from", c.next, "held", held, "err", err)
		return true
	}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		go it.Stop()
		return false
	default:
	}
	prev := c.it
	c.cons, c.it = cons, it
	c.mu.Unlock()
	go prev.Stop()
	attrs := []any{"from", c.next, "held", held, "for", c.stallAfter, "attempt", *remakes}
	if old != nil && old.Cluster != nil {
		attrs = append(attrs, "node", old.Cluster.Leader)
	}
	c.log.Warn("the log's consumer delivered nothing while the log holds more: making it again", attrs...)
	return true
}

// opContext bounds a request the pump makes; it ends with the cursor.
func (c *Cursor) opContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// matchesAny reports whether subject matches one of the NATS subject
// filters (with * and > wildcards).
func matchesAny(filters []string, subject string) bool {
	for _, f := range filters {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

func subjectMatches(filter, subject string) bool {
	for {
		ftok, frest, fmore := strings.Cut(filter, ".")
		if ftok == ">" {
			return subject != ""
		}
		stok, srest, smore := strings.Cut(subject, ".")
		if ftok != "*" && ftok != stok {
			return false
		}
		if !fmore || !smore {
			return fmore == smore
		}
		filter, subject = frest, srest
	}
}
