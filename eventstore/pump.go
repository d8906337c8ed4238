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
// asks the log whether one is still to come (see drained).
const idleWait = 250 * time.Millisecond

func (c *Cursor) pump() {
	defer close(c.ch)
	var skipped uint64
	// look is set when the server may have nothing more to deliver before
	// the end: the cursor asks the log before it waits again.
	look := false
	for {
		if c.bounded && c.next > c.end {
			c.send(item{err: io.EOF, raw: skipped})
			return
		}
		if c.bounded && look {
			look = false
			if c.drained() {
				// What the server cannot deliver before the end is lost.
				if c.gap(c.next, c.end) {
					c.send(item{err: io.EOF, raw: skipped})
				}
				return
			}
		}
		var opts []jetstream.NextOpt
		if c.bounded {
			opts = append(opts, jetstream.NextMaxWait(idleWait))
		}
		m, err := c.it.Next(opts...)
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
			continue
		}
		it := item{raw: skipped + 1}
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

// drained asks the log whether a message at or after the next sequence and
// up to the end is still to come; false when it does not answer.
func (c *Cursor) drained() bool {
	if c.lookup == nil {
		return false
	}
	ctx, cancel := c.opContext()
	defer cancel()
	seq, err := c.lookup(ctx, c.next)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return true
	case err != nil:
		return false
	}
	return seq > c.end
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
