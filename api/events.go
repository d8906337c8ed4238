package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/queries"
)

// EventLog is the event log as the event stream endpoint follows it.
type EventLog interface {
	Follow(ctx context.Context, from uint64, subjects ...string) (*eventstore.Cursor, error)
	Head(ctx context.Context) (uint64, error)
	// Get reads the event at a log sequence (for an account's export).
	Get(ctx context.Context, seq uint64) (domain.Record, error)
	SubjectsOf(aggregateTypes ...string) []string
}

// heartbeat is how often an idle event stream sends a comment, and how often
// it checks that its caller may still follow it.
const heartbeat = 15 * time.Second

func (s *Server) registerEventRoutes(r *mux.Router) {
	r.HandleFunc("/api/events/stream/", s.staffOnly("read the event stream", s.handle(s.handleEventStream))).Methods(http.MethodGet)
}

// handleEventStream follows the log as Server-Sent Events: each event's id is
// its log sequence, its event name its type, its data the JSON of
// eventstore.EventView (sensitive fields removed). It starts after the
// Last-Event-ID header, or at ?from=SEQ, or with the next event appended;
// ?type= (comma-separated event types) and ?aggregate= (aggregate types)
// filter. Staff only, checked again at every heartbeat.
func (s *Server) handleEventStream(w http.ResponseWriter, r *http.Request) error {
	req, err := parseStreamRequest(r)
	if err != nil {
		return err
	}
	if s.Events == nil {
		return domain.Errorf(domain.EUNAVAILABLE, "The event stream is not available.")
	}
	if headOnly(r) { // a stream's headers, not a stream that never ends
		startEventStream(w)
		return nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.streams.Done(): // the server is shutting down
			cancel()
		case <-ctx.Done():
		}
	}()
	cur, err := s.followFrom(ctx, &req)
	if err != nil {
		return err
	}
	defer cur.Close()
	s.streamEvents(ctx, w, cur, req, principalOf(r.Context()))
	return nil
}

// streamRequest is what a request to the event stream asks for.
type streamRequest struct {
	from       uint64 // 0: the next event appended
	types      []string
	aggregates []string
}

func parseStreamRequest(r *http.Request) (streamRequest, error) {
	q := r.URL.Query()
	p := domain.Problems{}
	var req streamRequest
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil || !digits(id) {
			p.Add("Last-Event-ID", "must be the id (log sequence) of an event")
		}
		req.from = n + 1
	} else if f, ok := queryValue(q, "from", p); ok {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil || !digits(f) || n == 0 {
			p.Add("from", "must be a log sequence from 1")
		}
		req.from = n
	}
	req.types = namesIn(q.Get("type"), "type", "event type", domain.EventTypes, p)
	req.aggregates = namesIn(q.Get("aggregate"), "aggregate", "aggregate type", aggregateTypes, p)
	return req, p.Err()
}

// namesIn parses a comma-separated list of names of one kind (empty items
// are passed over, as an empty parameter is): a name outside known is a
// problem of param naming it and listing the known ones, so that a typo is
// a 422 rather than a stream that never sends anything.
func namesIn(list, param, kind string, known func() []string, p domain.Problems) []string {
	var out, all []string
	for _, name := range strings.Split(list, ",") {
		if name == "" {
			continue
		}
		if all == nil {
			all = known()
		}
		if !slices.Contains(all, name) {
			p.Add(param, fmt.Sprintf("unknown %s %q (the %ss are %s)", kind, name, kind, strings.Join(all, ", ")))
			return nil
		}
		out = append(out, name)
	}
	return out
}

// aggregateTypes lists every aggregate type of the catalogue, the log's
// bookkeeping included.
func aggregateTypes() []string {
	var out []string
	for _, a := range domain.Aggregates() {
		out = append(out, a.Type)
	}
	return out
}

// followFrom opens a cursor on the log where req starts (setting req.from
// to the log's next sequence when it starts with the next event).
func (s *Server) followFrom(ctx context.Context, req *streamRequest) (*eventstore.Cursor, error) {
	if req.from == 0 {
		head, err := s.Events.Head(ctx)
		if err != nil {
			return nil, err
		}
		req.from = head + 1
	}
	return s.Events.Follow(ctx, req.from, s.Events.SubjectsOf(req.aggregates...)...)
}

// streamEvents writes the events of cur as Server-Sent Events until the
// client leaves, the server stops, the log cannot be read or the caller is
// no longer staff with a live session (checked when the stream is idle).
func (s *Server) streamEvents(ctx context.Context, w http.ResponseWriter, cur *eventstore.Cursor, req streamRequest, p0 *principal) {
	write := startEventStream(w)
	if !write([]byte(": following the Inkwell event log from " + strconv.FormatUint(req.from, 10) + "\n\n")) {
		return
	}
	for {
		next, cancelNext := context.WithTimeout(ctx, heartbeat)
		rec, err := cur.Next(next)
		cancelNext()
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			// Idle: is the caller still staff, with a live session?
			u, aerr := s.Queries.Authenticate.Handle(ctx, queries.Authenticate{UserID: p0.User.ID(), SessionID: p0.Claims.SessionID})
			if aerr != nil || !u.Staff() {
				write([]byte("event: end\ndata: {\"detail\":\"not authorized any more\"}\n\n"))
				return
			}
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
			continue
		case err != nil:
			return // the client left, the server stops, or the log is unreachable
		}
		if len(req.types) > 0 && !slices.Contains(req.types, rec.Type) {
			continue
		}
		v, err := eventstore.View(rec)
		if err != nil {
			s.log.ErrorContext(ctx, "event stream: view", "seq", rec.Seq, "err", err)
			continue
		}
		data, err := json.Marshal(v)
		if err != nil {
			continue
		}
		if !write([]byte(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", rec.Seq, rec.Type, data))) {
			return
		}
	}
}

// startEventStream answers 200 with the headers of an event stream and
// returns the function that writes (and flushes) one piece of it, false
// once the client is gone.
func startEventStream(w http.ResponseWriter) func([]byte) bool {
	rc := http.NewResponseController(w)
	// Neither the server's read timeout nor its write timeout may end the
	// stream: reads are over, writes extend their own deadline.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return func(b []byte) bool {
		// The stream outlives the server's write timeout: extend it per write.
		_ = rc.SetWriteDeadline(time.Now().Add(heartbeat + 10*time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
}
