package commands_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/queries"
)

// BenchmarkLoadOldAggregate compares a command on an aggregate with a long
// history (INKWELL_BENCH_HISTORY events, 10,000 by default) with the same
// command on a fresh one, each iteration running both: an article's update
// (PATCH) and a user's authentication (every authenticated request), warm
// (the store has loaded the aggregate before) and cold (a store just opened,
// as after a restart: empty caches, data keys not yet read). "snapshot" is
// how Inkwell loads; "full" folds every event, as before snapshots (the
// store seen through the commands' port alone). It reports the medians of
// both and their ratio (old/fresh).
func BenchmarkLoadOldAggregate(b *testing.B) {
	history := 10000
	if v := os.Getenv("INKWELL_BENCH_HISTORY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			b.Fatalf("INKWELL_BENCH_HISTORY=%q: give a number of events from 2", v)
		}
		history = n
	}
	e := eventstoretest.MustStartEmbedded(b, "")
	nc := e.Connect(b)
	master := eventstoretest.NewMasterKey(b)
	env := &historyBench{b: b, nc: nc, master: master}
	env.store, env.stop = env.open()
	b.Cleanup(func() { env.stop() })
	env.author = env.newUser(history)
	env.oldArticle = env.newArticle(env.author, history)
	env.oldSession = env.newSession(env.author)
	// The old aggregates were loaded before, as on a serving instance: the
	// first load of each, with no snapshot yet, folded every event and
	// wrote one.
	for _, a := range []domain.Snapshotter{&domain.User{}, &domain.Article{}} {
		id := domain.UserStream(env.author)
		if _, ok := a.(*domain.Article); ok {
			id = domain.ArticleStream(env.oldArticle)
		}
		if _, err := env.store.LoadInto(context.Background(), id, a); err != nil {
			b.Fatal(err)
		}
	}

	for _, kind := range []string{"article", "user"} {
		for _, state := range []string{"cold", "warm"} {
			for _, mode := range []string{"snapshot", "full"} {
				b.Run(kind+"/"+state+"/"+mode, func(b *testing.B) { env.run(b, kind, state == "cold", mode == "full") })
			}
		}
	}
}

type historyBench struct {
	b          testing.TB
	nc         *nats.Conn
	master     *auth.MasterKey
	store      *eventstore.Store
	stop       func()
	author     string
	oldArticle string
	oldSession string
}

// open opens a store on the log as serve does, with empty caches.
func (h *historyBench) open() (*eventstore.Store, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	// A long bound per request: the full loads of the old aggregates read
	// them whole, within one bound, on a machine that may be busy.
	s, err := eventstore.Open(ctx, h.nc, eventstore.Config{OpTimeout: time.Minute})
	if err != nil {
		h.b.Fatal(err)
	}
	keys, err := s.OpenDataKeys(ctx, h.master, 0)
	if err != nil {
		h.b.Fatal(err)
	}
	s.UsePersonalData(keys, h.master.Derive("claims"))
	if err := s.OpenSnapshots(ctx); err != nil {
		h.b.Fatal(err)
	}
	return s, cancel
}

func (h *historyBench) append(id domain.StreamID, pos domain.Position, actor string, ev domain.Event) domain.Position {
	recs, err := h.store.Append(context.Background(), id, pos, domain.Meta{ActorID: actor}, ev)
	if err != nil {
		h.b.Fatal(err)
	}
	return domain.Position{Seq: recs[0].Seq, Version: recs[0].Version}
}

// newUser records a user with n events: a registration and profile edits.
func (h *historyBench) newUser(n int) string {
	id, _ := commands.NewUUID()
	sid := domain.UserStream(id)
	pos := h.append(sid, domain.Position{}, id, &domain.UserRegistered{UserID: id, Username: "u" + id[24:], Email: id[24:] + "@example.com",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", FirstName: "Ada", LastName: "Writer", IsActive: true, DateJoined: time.Now().UTC()})
	for i := 1; i < n; i++ {
		bio := "Bio number " + strconv.Itoa(i)
		pos = h.append(sid, pos, id, &domain.UserProfileUpdated{Bio: &bio})
	}
	return id
}

// newArticle records an article of author with n events: its creation and
// edits of its text.
func (h *historyBench) newArticle(author string, n int) string {
	id, _ := commands.NewUUID()
	sid := domain.ArticleStream(id)
	content := "Some words of an article, long enough to be an article's paragraph. "
	pos := h.append(sid, domain.Position{}, author, &domain.ArticleCreated{ArticleID: id, Title: "Title " + id, Slug: "title-" + id,
		Content: content, Excerpt: domain.Excerpt(content), ExcerptAuto: true, AuthorID: author, Tags: []string{}, CreatedAt: time.Now().UTC()})
	for i := 1; i < n; i++ {
		text := content + strconv.Itoa(i)
		pos = h.append(sid, pos, author, &domain.ArticleUpdated{AuthorID: author, Content: &text})
	}
	return id
}

func (h *historyBench) newSession(user string) string {
	id, _ := commands.NewUUID()
	h.append(domain.SessionStream(id), domain.Position{}, user, &domain.SessionStarted{SessionID: id, UserID: user, RefreshID: id, StartedAt: time.Now().UTC()})
	return id
}

// portOnly is the store seen through the commands' and queries' ports
// alone: every load folds every event.
type portOnly struct{ commands.EventStore }

// op returns the operation of a case on store: an update of an article, or
// the authentication of a user's session.
func (h *historyBench) op(store commands.EventStore, kind string) func(ctx context.Context, aggregate, session string) error {
	if kind == "article" {
		handlers := commands.New(commands.Deps{Store: store, Hasher: noHasher{}})
		n := 0
		return func(ctx context.Context, article, _ string) error {
			n++
			text := "Edited " + strconv.Itoa(n)
			_, err := handlers.UpdateArticle.Handle(ctx, commands.UpdateArticle{Actor: domain.Actor{ID: h.author}, ID: article,
				Changes: domain.ArticleChanges{Content: &text}})
			return err
		}
	}
	auth := queries.AuthenticateHandler{Store: store}
	return func(ctx context.Context, user, session string) error {
		_, err := auth.Handle(ctx, queries.Authenticate{UserID: user, SessionID: session})
		return err
	}
}

func (h *historyBench) run(b *testing.B, kind string, cold, full bool) {
	ctx := context.Background()
	old := h.oldArticle
	if kind == "user" {
		old = h.author
	}
	var fresh, aged []time.Duration
	timed := func(store *eventstore.Store, aggregate, session string) time.Duration {
		var port commands.EventStore = store
		if full {
			port = portOnly{store}
		}
		op := h.op(port, kind)
		if !cold {
			if err := op(ctx, aggregate, session); err != nil { // warm it
				b.Fatal(err)
			}
		}
		start := time.Now()
		if err := op(ctx, aggregate, session); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for b.Loop() {
		b.StopTimer()
		// A fresh aggregate each time: one event (a user: a registration,
		// with a session).
		freshID, freshSession := "", ""
		if kind == "article" {
			freshID = h.newArticle(h.author, 1)
		} else {
			freshID = h.newUser(1)
			freshSession = h.newSession(freshID)
		}
		store, stop := h.store, func() {}
		if cold {
			store, stop = h.open()
		}
		b.StartTimer()
		fresh = append(fresh, timed(store, freshID, freshSession))
		b.StopTimer()
		if cold {
			stop()
			store, stop = h.open()
		}
		b.StartTimer()
		aged = append(aged, timed(store, old, h.oldSession))
		b.StopTimer()
		stop()
		b.StartTimer()
	}
	f, o := median(fresh), median(aged)
	b.ReportMetric(float64(f.Nanoseconds()), "fresh-p50-ns")
	b.ReportMetric(float64(o.Nanoseconds()), "old-p50-ns")
	b.ReportMetric(float64(o)/float64(f), "old/fresh")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// noHasher is a PasswordHasher that no benchmarked command calls.
type noHasher struct{}

func (noHasher) Hash(context.Context, string) (string, error)         { return "", nil }
func (noHasher) Verify(context.Context, string, string) (bool, error) { return false, nil }
