package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream's snapshot and restore of one stream, the two API calls the
// nats tool's "stream backup" and "stream restore" make (jsm.go's
// SnapshotToDirectory and RestoreSnapshotFromDirectory), written here over
// nats.go: jsm.go would bring a command-line framework, an expression
// language and a table renderer for these two requests.
//
// Snapshot: a request to $JS.API.STREAM.SNAPSHOT.<stream> names a deliver
// subject; the server answers with the stream's config and state, then
// sends the snapshot (S2-compressed: a tar of the store's files from
// servers before 2.14, a NATSARC1 archive of the messages since) in chunks
// to that subject, each but the last with a reply subject that the client
// answers to ask for more (flow control: the server stops after 5 s
// without one), and ends with an empty message whose status is 204, or an
// error. Restore: a request to $JS.API.STREAM.RESTORE.<stream> with the
// config and state names a subject; the client sends the snapshot's bytes
// there as requests, one chunk each, and then an empty one, which the
// server answers once the stream is restored.

const (
	apiSnapshot = "$JS.API.STREAM.SNAPSHOT."
	apiRestore  = "$JS.API.STREAM.RESTORE."

	snapshotChunk = 128 << 10 // the server's default
	restoreChunk  = 512 << 10 // below the server's 1 MiB max payload

	// snapshotIdle is how long a snapshot may send nothing before the
	// client gives up on it. The server checks every message's checksum
	// before the first chunk (jsck, servers before 2.14), which takes a
	// while on a large stream.
	snapshotIdle = 2 * time.Minute
	// restoreChunkTimeout bounds the wait for the server to take one chunk
	// (it stores the chunk's messages before it answers).
	restoreChunkTimeout = time.Minute
	// restoreFinishTimeout bounds the wait for the server to finish a
	// restore after the last chunk.
	restoreFinishTimeout = time.Hour
)

// apiError is the error of a JetStream API answer.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (status %d, JetStream error %d)", e.Description, e.Code, e.ErrCode)
}

// snapshotResponse is the answer to a snapshot request.
type snapshotResponse struct {
	Error  *apiError       `json:"error,omitempty"`
	Config json.RawMessage `json:"config"`
	State  json.RawMessage `json:"state"`
}

// snapshotStream takes a snapshot of stream, consumers included when
// consumers is set, and writes it to w. It returns the stream's config and
// state when the snapshot began, as the server gave them.
func snapshotStream(ctx context.Context, nc *nats.Conn, stream string, consumers bool, w io.Writer) (snapshotResponse, error) {
	inbox := nc.NewRespInbox()
	done := make(chan error, 1)
	finish := func(err error) {
		select {
		case done <- err:
		default: // finished already
		}
	}
	activity := make(chan struct{}, 1)
	failed := false
	// Chunks come in order, and the callback of one subscription is never
	// called twice at once: each is written as it comes.
	sub, err := nc.Subscribe(inbox, func(m *nats.Msg) {
		if failed {
			return
		}
		select {
		case activity <- struct{}{}:
		default:
		}
		if len(m.Data) == 0 {
			// The end: the status says how it went (none when the
			// snapshot was smaller than one chunk).
			if status := m.Header.Get("Status"); status != "" && status != "204" {
				failed = true
				finish(fmt.Errorf("the server ended the snapshot with %s %s", status, m.Header.Get("Description")))
				return
			}
			finish(nil)
			return
		}
		// Ask for more first: the bytes are in memory, and a slow disk
		// must not make the server give up waiting for the answer.
		if m.Reply != "" {
			_ = m.Respond(nil)
		}
		if _, err := w.Write(m.Data); err != nil {
			failed = true
			finish(err)
		}
	})
	if err != nil {
		return snapshotResponse{}, fmt.Errorf("snapshot of %s: %w", stream, err)
	}
	defer sub.Unsubscribe()
	// The window of chunks in flight is the server's to bound (8 MiB).
	_ = sub.SetPendingLimits(-1, -1)

	req, _ := json.Marshal(map[string]any{
		"deliver_subject": inbox,
		"no_consumers":    !consumers,
		"chunk_size":      snapshotChunk,
		// Servers before 2.14 check every message's checksum before they
		// copy the store's files; later ones check each message as they
		// read it for the snapshot.
		"jsck": true,
	})
	var resp snapshotResponse
	if err := apiRequest(ctx, nc, apiSnapshot+stream, req, 30*time.Second, &resp); err != nil {
		return resp, fmt.Errorf("snapshot of %s: %w", stream, err)
	}
	idle := time.NewTimer(snapshotIdle)
	defer idle.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return resp, fmt.Errorf("snapshot of %s: %w", stream, err)
			}
			return resp, nil
		case <-activity:
			idle.Reset(snapshotIdle)
		case <-idle.C:
			return resp, fmt.Errorf("snapshot of %s: the server sent nothing for %v", stream, snapshotIdle)
		case <-ctx.Done():
			return resp, fmt.Errorf("snapshot of %s: %w", stream, ctx.Err())
		}
	}
}

// restoreStream restores a stream from its snapshot r (as snapshotStream
// wrote it) with config (the stream's, perhaps changed) and state (as the
// snapshot's answer gave it). It returns the restored stream's state.
func restoreStream(ctx context.Context, nc *nats.Conn, name string, config, state json.RawMessage, r io.Reader) (jetstream.StreamState, error) {
	req, _ := json.Marshal(map[string]json.RawMessage{"config": config, "state": state})
	var resp struct {
		Error          *apiError `json:"error,omitempty"`
		DeliverSubject string    `json:"deliver_subject"`
	}
	if err := apiRequest(ctx, nc, apiRestore+name, req, 30*time.Second, &resp); err != nil {
		return jetstream.StreamState{}, fmt.Errorf("restore of %s: %w", name, err)
	}
	size := min(restoreChunk, int(nc.MaxPayload())-1024)
	buf := make([]byte, size)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if err := restoreChunkTo(ctx, nc, resp.DeliverSubject, buf[:n]); err != nil {
				return jetstream.StreamState{}, fmt.Errorf("restore of %s: %w", name, err)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		} else if err != nil {
			return jetstream.StreamState{}, fmt.Errorf("restore of %s: read the snapshot: %w", name, err)
		}
	}
	// The empty chunk ends the transfer; the answer comes once the server
	// has stored every message.
	var created struct {
		Error *apiError             `json:"error,omitempty"`
		State jetstream.StreamState `json:"state"`
	}
	if err := apiRequest(ctx, nc, resp.DeliverSubject, nil, restoreFinishTimeout, &created); err != nil {
		return jetstream.StreamState{}, fmt.Errorf("restore of %s: %w", name, err)
	}
	return created.State, nil
}

// restoreChunkTo sends one chunk of a restore and waits for the server to
// take it.
func restoreChunkTo(ctx context.Context, nc *nats.Conn, subject string, chunk []byte) error {
	ctx, cancel := context.WithTimeout(ctx, restoreChunkTimeout)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subject, chunk)
	if err != nil {
		return fmt.Errorf("send a chunk: %w", err)
	}
	if len(m.Data) > 0 { // an error: a taken chunk is answered empty
		var e struct {
			Error *apiError `json:"error,omitempty"`
		}
		if json.Unmarshal(m.Data, &e) == nil && e.Error != nil {
			return e.Error
		}
		return fmt.Errorf("the server refused a chunk: %q", m.Data)
	}
	return nil
}

// apiRequest sends a JetStream API request and decodes its answer into
// resp, whose Error field (an *apiError) is returned as the error.
func apiRequest(ctx context.Context, nc *nats.Conn, subject string, req []byte, timeout time.Duration, resp any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subject, req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(m.Data, resp); err != nil {
		return fmt.Errorf("JetStream's answer %q: %w", m.Data, err)
	}
	var e struct {
		Error *apiError `json:"error,omitempty"`
	}
	if json.Unmarshal(m.Data, &e) == nil && e.Error != nil {
		return e.Error
	}
	return nil
}
