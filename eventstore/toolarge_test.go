package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
)

// openWithMaxPayload opens a store on a server of its own whose clients may
// publish messages of at most maxPayload bytes (a NATS server's
// max_payload).
func openWithMaxPayload(t *testing.T, maxPayload int32) *eventstore.Store {
	t.Helper()
	return eventstoretest.MustOpenOn(t, eventstoretest.MustConnect(t, eventstoretest.MustStartWithMaxPayload(t, maxPayload)), eventstore.Config{})
}

// articleWith returns an article's creation whose content is content.
func articleWith(id, content string) *domain.ArticleCreated {
	return &domain.ArticleCreated{ArticleID: id, Title: "Long", Slug: "long", Content: content, Excerpt: "Long.",
		AuthorID: "01900000-0000-7000-8000-000000000001", Tags: []string{}, CreatedAt: time.Unix(1700000000, 0).UTC()}
}

// An event larger than the log takes, by the server's max_payload or by the
// stream's max_msg_size, is refused for what it is: the client's to change
// (domain.ETOOLARGE, a 413), naming the field that makes it so, with the
// log's limit. Nothing is stored, and the log stays writable.
func TestAnEventTooLargeForTheLogIsTheClientsToChange(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	for _, c := range []struct {
		name string
		open func(t *testing.T) *eventstore.Store
	}{
		{"the server's max_payload", func(t *testing.T) *eventstore.Store { return openWithMaxPayload(t, limit) }},
		{"the stream's max_msg_size", func(t *testing.T) *eventstore.Store {
			s := eventstoretest.MustOpen(t)
			ctx := context.Background()
			st, err := s.JetStream().Stream(ctx, "INKWELL")
			if err != nil {
				t.Fatal(err)
			}
			cfg := st.CachedInfo().Config
			cfg.MaxMsgSize = limit
			if _, err := s.JetStream().UpdateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			return s
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := c.open(t)
			if got := s.EventLimit(ctx); got != limit {
				t.Errorf("EventLimit = %d, want %d", got, limit)
			}
			id := domain.ArticleStream("01900000-0000-7000-8000-0000000000aa")
			// 20,000 characters that JSON escapes take 120,000 bytes, and
			// a third more once sealed.
			_, err := s.Append(ctx, id, domain.Position{}, domain.Meta{}, articleWith(id.ID, strings.Repeat("<", 20000)))
			if code := domain.ErrorCode(err); code != domain.ETOOLARGE {
				t.Fatalf("append of an event over the limit: %v (code %q), want %q", err, code, domain.ETOOLARGE)
			}
			if msg := domain.ErrorMessage(err); !strings.Contains(msg, fmt.Sprintf("at most %d", limit)) {
				t.Errorf("message %q does not give the log's limit", msg)
			}
			fields := domain.ErrorFields(err)
			if len(fields) != 1 || !strings.Contains(fields["content"], "too long for the event log") {
				t.Errorf("fields %v, want content named", fields)
			}
			if err := s.Writable(); err != nil {
				t.Errorf("after an event too large: Writable() = %v", err)
			}
			// Nothing was stored: the stream's first event is still to come.
			recs, err := s.Append(ctx, id, domain.Position{}, domain.Meta{}, articleWith(id.ID, "Short."))
			if err != nil {
				t.Fatalf("append after the refusal: %v", err)
			}
			if recs[0].Version != 1 {
				t.Errorf("the next event is version %d, want 1", recs[0].Version)
			}
		})
	}
}

// The largest event Inkwell writes takes at most half of MinMessageLimit,
// the size the documentation asks of a NATS server: an article's creation
// at the limits of every field, made of the characters that take the most
// room in the log (each of < > & takes 6 bytes once JSON-escaped, and a
// sealed personal field a third more again). The embedded server takes
// MinMessageLimit.
func TestTheLargestEventTakesHalfMinMessageLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openWithMaxPayload(t, eventstore.MinMessageLimit/2)
	tags := make([]string, domain.MaxTags)
	for i := range tags {
		tags[i] = fmt.Sprintf("01900000-0000-7000-8000-%012d", i)
	}
	now := time.Unix(1700000000, 0).UTC()
	id := domain.ArticleStream("01900000-0000-7000-8000-0000000000bb")
	ev := &domain.ArticleCreated{ArticleID: id.ID, Title: strings.Repeat("<", domain.MaxTitleLen), Slug: strings.Repeat("a", domain.MaxSlugLen),
		Content: strings.Repeat("<", domain.MaxContentLen), Excerpt: strings.Repeat("<", domain.MaxExcerptLen),
		AuthorID: "01900000-0000-7000-8000-000000000001", CategoryID: "01900000-0000-7000-8000-0000000000cc", Tags: tags,
		CoverImage:  "https://example.com/" + strings.Repeat("<", domain.MaxURLLen-len("https://example.com/")),
		IsPublished: true, PublishedAt: &now, CreatedAt: now}
	meta := domain.Meta{ActorID: "01900000-0000-7000-8000-000000000001", CorrelationID: strings.Repeat("c", 64)}
	if _, err := s.Append(ctx, id, domain.Position{}, meta, ev); err != nil {
		t.Fatalf("the largest event on a server whose max_payload is half of MinMessageLimit: %v", err)
	}
	if embedded := eventstoretest.MustOpen(t).EventLimit(ctx); embedded < eventstore.MinMessageLimit {
		t.Errorf("the embedded log takes %d bytes, below MinMessageLimit %d", embedded, eventstore.MinMessageLimit)
	}
}
