package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/queries"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/personal"
)

// PersonalData is what the export of an account reads beside the account
// itself (the personal-data and articles read models), a page at a time.
type PersonalData interface {
	// SessionsOf returns up to limit of a user's sessions after after (nil:
	// from the first), oldest first.
	SessionsOf(ctx context.Context, userID string, after *personal.Session, limit int) ([]personal.Session, error)
	// EventSeqsOf returns up to limit log sequences of the events a user
	// caused after the sequence after, in order.
	EventSeqsOf(ctx context.Context, userID string, after uint64, limit int) ([]uint64, error)
}

// Export is everything Inkwell holds about one account (GDPR art. 15 and
// 20), as GET /api/auth/me/export/ answers it: the account, its sessions,
// its articles (drafts too), its comments and every event it caused, each as the event
// stream shows it (the password hash, a secret, is never in it). The
// document is never built whole: it is written as it is read (see
// handleMeExport), byte for byte what encoding/json makes of this type.
type Export struct {
	ExportedAt time.Time              `json:"exported_at"`
	User       UserResponse           `json:"user"`
	Sessions   []personal.Session     `json:"sessions"`
	Articles   []ArticleResponse      `json:"articles"`
	Comments   []CommentResponse      `json:"comments"`
	Favorites  []articles.Favorite    `json:"favorites"`
	Following  []follows.Follow       `json:"following"`
	Events     []eventstore.EventView `json:"events"`
}

const (
	// exportPage is how many sessions, articles or event sequences the
	// export reads from the read models at a time: it bounds what an
	// export holds beside the one article or event it is writing.
	exportPage = 500
	// DefaultExportStall is ExportStall's default.
	DefaultExportStall = 30 * time.Second
	// DefaultExportConcurrency is ExportConcurrency's default.
	DefaultExportConcurrency = 4
	// exportRetryAfter is the Retry-After of an export refused because
	// others are running.
	exportRetryAfter = 10 * time.Second
)

// handleMeExport answers the caller's export, streamed: the document is
// written as its parts are read (sessions, article ids and event sequences
// a page at a time; each article and event read, encoded and sent on its
// own), so that an export holds the same memory whatever the size of the
// history. Until the first byte, the request is bounded as any other and
// its errors are answered as problems; the download itself has no
// deadline but ends when it makes no progress for ExportStall. A failure
// after the first byte can no longer change the status: the connection is
// aborted (http.ErrAbortHandler), so that the response ends without its
// final chunk and no client takes a cut document for a whole one.
func (s *Server) handleMeExport(w http.ResponseWriter, r *http.Request) error {
	if s.Events == nil || s.Personal == nil {
		return domain.Errorf(domain.EUNAVAILABLE, "The export is not available.")
	}
	p := principalOf(r.Context())
	release, err := s.exports.acquire(p.User.ID())
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(exportRetryAfter/time.Second)))
		return err
	}
	defer release()
	// A read deadline that passes cancels the request (net/http's
	// background read): the download outlives the server's read timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})

	// Up to the first byte, an export is bounded like any request (see
	// withDeadline, which leaves it out).
	early, cancel := context.WithTimeout(r.Context(), s.RequestTimeout)
	defer cancel()
	x := &exporter{s: s, p: p}
	if err := x.begin(early); err != nil {
		return err
	}

	// The download: no deadline, but a watchdog that ends it once it has
	// made no progress (a byte taken by the connection) for ExportStall.
	ctx, stop := context.WithCancelCause(r.Context())
	defer stop(nil)
	watchdog := time.AfterFunc(s.ExportStall, func() { stop(errExportStalled) })
	defer watchdog.Stop()
	out := &exportWriter{w: w, rc: rc, stall: s.ExportStall, progress: func() { watchdog.Reset(s.ExportStall) }}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="inkwell-export.json"`)
	w.WriteHeader(http.StatusOK)
	start := time.Now()
	if err := x.write(ctx, out); err != nil {
		s.logExportAborted(ctx, r, err, out.n, time.Since(start))
		panic(http.ErrAbortHandler)
	}
	return nil
}

// errExportStalled is why an export that made no progress for ExportStall
// was ended.
var errExportStalled = errors.New("the export made no progress")

// logExportAborted says why an export was cut after its first byte: a
// download that made no progress (a client that stopped reading, a
// dependency that hangs), or whose session ended, is a warning; a client
// that went away is the client's doing; any other failure is an error of
// the server's, which its client sees as a broken download.
func (s *Server) logExportAborted(ctx context.Context, r *http.Request, err error, sent int64, took time.Duration) {
	attrs := []any{"err", err, "bytes", sent, "took", took}
	var se *sendError
	switch {
	case errors.Is(context.Cause(ctx), errExportStalled) || errors.Is(err, os.ErrDeadlineExceeded):
		s.log.WarnContext(r.Context(), "export aborted: no progress for "+s.ExportStall.String(), attrs...)
	case errors.As(err, &se) || r.Context().Err() != nil:
		s.log.InfoContext(r.Context(), "export aborted: the client went away", attrs...)
	case errors.Is(err, errExportRevoked):
		s.log.WarnContext(r.Context(), "export aborted: the caller's session ended", attrs...)
	default:
		s.log.ErrorContext(r.Context(), "export aborted after its first bytes: its client gets a broken download", attrs...)
	}
}

// sendError is a failure to send the export to its client.
type sendError struct{ err error }

func (e *sendError) Error() string { return "send the export: " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// exporter is one export under way.
type exporter struct {
	s        *Server
	p        *principal
	head     uint64             // the log's last sequence when the request came
	sessions []personal.Session // the first page of sessions
	checked  time.Time          // when the caller was last found authorized
}

// begin does what may still be answered with a problem: it waits until the
// personal-data read model has read all the log holds now (it follows the
// log behind the writes), and reads the first page of sessions.
func (x *exporter) begin(ctx context.Context) error {
	var err error
	if x.head, err = x.s.Events.Head(ctx); err != nil {
		return err
	}
	if err := x.s.ReadModels.WaitForProjection(ctx, "personal", x.head); err != nil {
		return err
	}
	x.sessions, err = x.s.Personal.SessionsOf(ctx, x.p.User.ID(), nil, exportPage)
	x.checked = x.s.Now()
	return err
}

// errExportRevoked ends an export whose caller's session ended, or whose
// account was disabled or deleted, while it ran.
var errExportRevoked = errors.New("the caller's session ended during the export")

// authorized checks again, once every heartbeat, that the caller's account
// and session are still live, as the event stream does: a revocation is
// immediate everywhere, and a long download must not outlive a logout, a
// password change or a disabled account by more than that.
func (x *exporter) authorized(ctx context.Context) error {
	now := x.s.Now()
	if now.Sub(x.checked) < heartbeat {
		return nil
	}
	x.checked = now
	_, err := x.s.Queries.Authenticate.Handle(ctx, queries.Authenticate{UserID: x.p.User.ID(), SessionID: x.p.Claims.SessionID})
	if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
		return fmt.Errorf("%w: %w", errExportRevoked, err)
	}
	return err
}

// write writes the document: the shape of Export, each part as it is read.
func (x *exporter) write(ctx context.Context, out *exportWriter) error {
	if err := out.write([]byte(`{"exported_at":`), x.s.Now().UTC(), []byte(`,"user":`), accountResponse(x.p.User), []byte(`,"sessions":[`)); err != nil {
		return err
	}
	if err := x.sessionsPart(ctx, out); err != nil {
		return err
	}
	for _, part := range []struct {
		name  string
		write func(context.Context, *exportWriter) error
	}{
		{"articles", x.articles}, {"comments", x.comments}, {"favorites", x.favorites}, {"following", x.following}, {"events", x.events},
	} {
		if err := out.write([]byte(`],"` + part.name + `":[`)); err != nil {
			return err
		}
		if err := part.write(ctx, out); err != nil {
			return err
		}
	}
	return out.write([]byte("]}\n"))
}

var comma = []byte{','}

// sessionsPart writes the caller's sessions, oldest first, from the first
// page begin read.
func (x *exporter) sessionsPart(ctx context.Context, out *exportWriter) error {
	return exportPages(ctx, x, out, func(after *personal.Session) ([]personal.Session, error) {
		if after == nil {
			page := x.sessions
			x.sessions = nil // written once, held no longer than its page
			return page, nil
		}
		return x.s.Personal.SessionsOf(ctx, x.p.User.ID(), after, exportPage)
	}, func(s personal.Session) *personal.Session { return &s }, asIs)
}

// articles writes the caller's articles, each as a read shows it.
func (x *exporter) articles(ctx context.Context, out *exportWriter) error {
	return exportPages(ctx, x, out, func(after *articles.Key) ([]articles.Key, error) {
		return x.s.Articles.ArticleKeysOf(ctx, x.p.User.ID(), after, exportPage)
	}, func(k articles.Key) *articles.Key { return &k }, func(k articles.Key) (any, error) {
		v, err := x.s.Articles.ArticleByRef(ctx, x.p.User.Actor(), k.ID)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return nil, nil // deleted since its page was read: no longer held
		} else if err != nil {
			return nil, err
		}
		return articleResponse(v), nil
	})
}

// comments writes the caller's comments, oldest first, a page at a time
// (none on a server without comments).
func (x *exporter) comments(ctx context.Context, out *exportWriter) error {
	if x.s.Comments == nil {
		return nil
	}
	return exportPages(ctx, x, out, func(after *comments.Key) ([]comments.Comment, error) {
		return x.s.Comments.CommentsOf(ctx, x.p.User.ID(), after, exportPage)
	}, func(c comments.Comment) *comments.Key {
		return &comments.Key{ID: c.ID, CreatedAt: c.CreatedAt}
	}, func(c comments.Comment) (any, error) { return commentResponse(c), nil })
}

// favorites writes the articles the caller favors, by article id, a page
// at a time.
func (x *exporter) favorites(ctx context.Context, out *exportWriter) error {
	return exportPages(ctx, x, out, func(after string) ([]articles.Favorite, error) {
		return x.s.Articles.FavoritesOf(ctx, x.p.User.ID(), after, exportPage)
	}, func(f articles.Favorite) string { return f.ArticleID }, asIs)
}

// following writes the users the caller follows, by id, a page at a time
// (none on a server without the follows read model).
func (x *exporter) following(ctx context.Context, out *exportWriter) error {
	if x.s.Follows == nil {
		return nil
	}
	return exportPages(ctx, x, out, func(after string) ([]follows.Follow, error) {
		return x.s.Follows.FollowingOf(ctx, x.p.User.ID(), after, exportPage)
	}, func(f follows.Follow) string { return f.FolloweeID }, asIs)
}

// events writes every event the caller caused up to the log's head when the
// request came, as the event stream shows them (eventstore.View: without
// the password hash).
func (x *exporter) events(ctx context.Context, out *exportWriter) error {
	return exportPages(ctx, x, out, func(after uint64) ([]uint64, error) {
		seqs, err := x.s.Personal.EventSeqsOf(ctx, x.p.User.ID(), after, exportPage)
		// The sequences come in order: the first past the head ends the
		// export's events (a short page).
		if i := slices.IndexFunc(seqs, func(seq uint64) bool { return seq > x.head }); i >= 0 {
			seqs = seqs[:i]
		}
		return seqs, err
	}, func(seq uint64) uint64 { return seq }, func(seq uint64) (any, error) {
		rec, err := x.s.Events.Get(ctx, seq)
		if err != nil {
			return nil, err
		}
		return eventstore.View(rec)
	})
}

// exportPages writes the items of the pages page reads, each page after
// the key of the last item of the one before (the zero K first), until a
// page is short. Each item is written as shape makes it (nil: skipped).
func exportPages[T, K any](ctx context.Context, x *exporter, out *exportWriter, page func(after K) ([]T, error), key func(T) K,
	shape func(T) (any, error)) error {
	sep := []byte{}
	var after K
	for {
		items, err := page(after)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := x.authorized(ctx); err != nil {
				return err
			}
			v, err := shape(it)
			if err != nil {
				return err
			}
			if v == nil {
				continue
			}
			if err := out.write(sep, v); err != nil {
				return err
			}
			sep = comma
		}
		if len(items) < exportPage {
			return nil
		}
		after = key(items[len(items)-1])
	}
}

// asIs writes an item as it is.
func asIs[T any](item T) (any, error) { return item, nil }

// exportWriter sends the export to its client, each piece as soon as it is
// written: a write must be taken by the connection within stall (the
// server's write deadline is moved on with each), and each that is counts
// as progress.
type exportWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	stall    time.Duration
	progress func()
	n        int64 // bytes sent
}

// write writes parts, each []byte as it is and anything else encoded as
// JSON, then flushes them to the client.
func (o *exportWriter) write(parts ...any) error {
	_ = o.rc.SetWriteDeadline(time.Now().Add(o.stall))
	for _, part := range parts {
		b, ok := part.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(part); err != nil {
				return fmt.Errorf("encode the export: %w", err)
			}
		}
		n, err := o.w.Write(b)
		o.n += int64(n)
		if err != nil {
			return &sendError{err}
		}
	}
	if err := o.rc.Flush(); err != nil {
		return &sendError{err}
	}
	o.progress()
	return nil
}

// exportSlots bounds the exports running at once on a server (each takes
// most of a core while it runs, and a few database and event-log reads at
// a time), and lets a user run one at a time, so that nobody takes every
// slot.
type exportSlots struct {
	mu      sync.Mutex
	max     int
	running map[string]bool // by user id
}

var (
	errExportRunning = newHTTPError(http.StatusTooManyRequests,
		"An export of this account is already running; retry once it has ended.")
	errExportsBusy = newHTTPError(http.StatusServiceUnavailable,
		"Too many exports are running on this server; retry shortly.")
)

// acquire takes a slot for an export of userID: errExportRunning (429)
// while one of theirs runs, errExportsBusy (503) while every slot is taken.
// The slot is released by calling release.
func (e *exportSlots) acquire(userID string) (release func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.running[userID]:
		return nil, errExportRunning
	case len(e.running) >= e.max:
		return nil, errExportsBusy
	}
	if e.running == nil {
		e.running = map[string]bool{}
	}
	e.running[userID] = true
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.running, userID)
	}, nil
}
