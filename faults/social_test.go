//go:build heavy

package faults_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The load's social writes: comments on its articles, favorites taken and
// taken back, follows of its other workers. Favorites and follows are
// states (a pair is favored or not), so the load keeps, for each pair, what
// its last acknowledged write made it; a write the keyless worker gave up
// leaves its pair unknown until the next acknowledged one. A comment is
// sent with a request id of its own (X-Request-Id, the same for every
// retry), which the log keeps as the comment.added event's correlation id:
// the log tells which comments a logical write made, although it keeps the
// body sealed.

// social is what the load's social writes did, as its clients know it.
type social struct {
	comments map[string]ackedComment // request id → the comment acknowledged
	issued   map[string]bool         // the request id of every comment sent
	// favored and following are, by the pair's stream id, the state the
	// last acknowledged write of the pair made (absent: none, or unknown).
	favored, following map[string]pairState
	// gone are the articles a comment or a favorite found gone (404): a
	// damaged log lost them.
	gone []string
	// acknowledged writes of each kind (a favorite taken back counts as a
	// favorite, an unfollow as a follow).
	nComments, nFavorites, nFollows int
}

type ackedComment struct {
	id, article, body string
	at                int // ackedWrites when it was acknowledged
}

type pairState struct {
	on bool
	at int // ackedWrites when it was acknowledged
}

func newSocial() social {
	return social{comments: map[string]ackedComment{}, issued: map[string]bool{},
		favored: map[string]pairState{}, following: map[string]pairState{}}
}

// target picks one of the first n acknowledged articles of the load (""
// if none yet).
func (l *load) target(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pool) == 0 {
		return ""
	}
	return l.pool[rand.IntN(min(n, len(l.pool)))]
}

// favoriteTargets is how many of the load's first articles its favorites
// go to: few, so that a worker takes back a favorite as often as it gives
// one.
const favoriteTargets = 8

// comment comments on an article of the load; done is false when there is
// none yet.
func (l *load) comment(worker int, w *loadWorker, body string) (done, unknown bool) {
	article := l.target(math.MaxInt)
	if article == "" {
		return false, false
	}
	reqID := "load-" + randomHex(12)
	l.mu.Lock()
	l.social.issued[reqID] = true
	l.mu.Unlock()
	return true, l.attempt(worker, w, loadWrite{
		method: "POST", path: "/api/articles/" + article + "/comments/", body: fmt.Sprintf(`{"body": %q}`, body), requestID: reqID,
		acked: func(status int, resp []byte) {
			l.social.comments[reqID] = ackedComment{id: l.ackedID(status, resp), article: article, body: body, at: l.ackedWrites + 1}
			l.social.nComments++
		},
		gone: func() { l.social.gone = append(l.social.gone, article) },
	})
}

// favorite favorites an article of the load, or takes the favorite back
// if the worker's last acknowledged write of it favored it; done is false
// when there is none yet.
func (l *load) favorite(worker int, w *loadWorker) (done, unknown bool) {
	article := l.target(favoriteTargets)
	if article == "" {
		return false, false
	}
	pair := w.id + "_" + article
	l.mu.Lock()
	on := !l.social.favored[pair].on
	l.mu.Unlock()
	return true, l.attempt(worker, w, loadWrite{
		method: map[bool]string{true: "POST", false: "DELETE"}[on], path: "/api/articles/" + article + "/favorite/",
		acked: func(int, []byte) {
			l.social.favored[pair] = pairState{on: on, at: l.ackedWrites + 1}
			l.social.nFavorites++
		},
		unknown: func() { delete(l.social.favored, pair) },
		gone:    func() { l.social.gone = append(l.social.gone, article) },
	})
}

// follow follows another worker of the load, or stops following them;
// done is false for a load of one worker.
func (l *load) follow(worker int, w *loadWorker) (done, unknown bool) {
	if len(l.workers) < 2 {
		return false, false
	}
	other := l.workers[(worker+1+rand.IntN(len(l.workers)-1))%len(l.workers)]
	pair := w.id + "_" + other.id
	l.mu.Lock()
	on := !l.social.following[pair].on
	l.mu.Unlock()
	return true, l.attempt(worker, w, loadWrite{
		method: map[bool]string{true: "POST", false: "DELETE"}[on], path: "/api/profiles/" + other.user + "/follow/",
		acked: func(int, []byte) {
			l.social.following[pair] = pairState{on: on, at: l.ackedWrites + 1}
			l.social.nFollows++
		},
		unknown: func() { delete(l.social.following, pair) },
	})
}

// logged is what the log holds of the load's kinds of writes, read with
// inkwell events tail.
type logged struct {
	created  map[string][]string // article title → ids
	articles map[string]bool     // every article created
	comments map[string][]string // correlation id → the comments it added
	// favored and following are each pair's state at the log's end, by
	// its stream id; favorites counts each article's favorites.
	favored, following map[string]bool
	favorites          map[string]int
	// twice lists what the log holds twice: a favorite added to a favored
	// pair, a follow to a followed one, and the like.
	twice []twice
}

// twice is an event of a pair that found the pair in the state it records.
type twice struct {
	stream string // "<user id>_<article or followee id>"
	what   string
}

// readLog reads the load's kinds of events from the log of s.
func readLog(t *testing.T, s *inkwell) logged {
	t.Helper()
	g := logged{created: map[string][]string{}, articles: map[string]bool{}, comments: map[string][]string{},
		favored: map[string]bool{}, following: map[string]bool{}, favorites: map[string]int{}}
	out := s.run("events", "tail", "--from", "1", "--no-follow", "--type",
		"article.created,comment.added,favorite.added,favorite.removed,follow.added,follow.removed")
	for _, line := range lines(out) {
		var ev struct {
			Seq           uint64
			Type          string
			Aggregate     struct{ ID string }
			CorrelationID string `json:"correlation_id"`
			Data          struct {
				Title     string
				ArticleID string `json:"article_id"`
			}
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("events tail: %v: %s", err, line)
		}
		toggle := func(state map[string]bool, on bool) {
			if state[ev.Aggregate.ID] == on {
				g.twice = append(g.twice, twice{ev.Aggregate.ID, fmt.Sprintf("%s of %s at %d", ev.Type, ev.Aggregate.ID, ev.Seq)})
			}
			state[ev.Aggregate.ID] = on
		}
		switch ev.Type {
		case "article.created":
			g.created[ev.Data.Title] = append(g.created[ev.Data.Title], ev.Aggregate.ID)
			g.articles[ev.Aggregate.ID] = true
		case "comment.added":
			g.comments[ev.CorrelationID] = append(g.comments[ev.CorrelationID], ev.Aggregate.ID)
		case "favorite.added", "favorite.removed":
			on := ev.Type == "favorite.added"
			if g.favored[ev.Aggregate.ID] != on {
				g.favorites[ev.Data.ArticleID] += map[bool]int{true: 1, false: -1}[on]
			}
			toggle(g.favored, on)
		case "follow.added", "follow.removed":
			toggle(g.following, ev.Type == "follow.added")
		}
	}
	return g
}

// socialInLog checks the load's social writes against the log g: every
// acknowledged comment there once, no comment made twice, each pair in the
// state its last acknowledged write made it, nothing recorded twice, and
// every article a write found gone (404) not in the log. It returns how
// many acknowledged writes are not there and how many are there twice.
func (l *load) socialInLog(t *testing.T, g logged) (lost, dup int) {
	t.Helper()
	for reqID, c := range l.social.comments {
		if ids := g.comments[reqID]; len(ids) != 1 || ids[0] != c.id {
			lost++
			t.Errorf("acknowledged comment %s (%q, request %s): in the log as %v", c.id, c.body, reqID, ids)
		}
	}
	for reqID := range l.social.issued {
		if ids := g.comments[reqID]; len(ids) > 1 {
			dup += len(ids) - 1
			t.Errorf("the comment of request %s was added %d times: %v", reqID, len(ids), ids)
		}
	}
	for what, pairs := range map[string]struct {
		want map[string]pairState
		got  map[string]bool
	}{"favorite": {l.social.favored, g.favored}, "follow": {l.social.following, g.following}} {
		for pair, st := range pairs.want {
			if pairs.got[pair] != st.on {
				lost++
				t.Errorf("acknowledged %s %s (on: %t): the log says %t", what, pair, st.on, pairs.got[pair])
			}
		}
	}
	mine := l.userIDs()
	for _, tw := range g.twice {
		if user, _, _ := strings.Cut(tw.stream, "_"); mine[user] {
			dup++
			t.Errorf("recorded twice in a row: %s", tw.what)
		}
	}
	for _, a := range l.social.gone {
		if g.articles[a] {
			t.Errorf("a write on article %s was answered 404, but the log holds the article", a)
		}
	}
	return lost, dup
}

// userIDs is the set of the load's users' ids.
func (l *load) userIDs() map[string]bool {
	ids := map[string]bool{}
	for _, w := range l.workers {
		ids[w.id] = true
	}
	return ids
}

// socialInReadModels returns what the read models show differently from
// the log g: each acknowledged comment on its article once, with its body;
// each article's favorites_count (shown is the load's articles as the
// articles read model shows them); whom each worker follows; each worker's
// feed, the shown articles of the workers they follow. checked says how
// much it compared.
func (l *load) socialInReadModels(t *testing.T, g logged, shown map[string]shownArticle) (problems []string, checked string) {
	t.Helper()
	favorites, follows, feeds := 0, 0, 0
	byArticle := map[string][]ackedComment{}
	for _, c := range l.social.comments {
		byArticle[c.article] = append(byArticle[c.article], c)
	}
	for article, cs := range byArticle {
		listed := map[string][]string{} // id → bodies
		for _, item := range l.pages(t, "/api/articles/"+article+"/comments/", l.workers[0].token) {
			var c struct{ ID, Body string }
			if err := json.Unmarshal(item, &c); err != nil {
				t.Fatal(err)
			}
			listed[c.ID] = append(listed[c.ID], c.Body)
		}
		for _, c := range cs {
			if bodies := listed[c.id]; len(bodies) != 1 || bodies[0] != c.body {
				problems = append(problems, fmt.Sprintf("comment %s (%q) on %s: the read model lists %q", c.id, c.body, article, bodies))
			}
		}
	}
	for id, a := range shown {
		favorites += g.favorites[id]
		if a.Favorites != g.favorites[id] {
			problems = append(problems, fmt.Sprintf("article %s: favorites_count %d, %d favorites in the log", id, a.Favorites, g.favorites[id]))
		}
	}
	for _, w := range l.workers {
		want := map[string]bool{}
		for _, o := range l.workers {
			if o == w {
				continue
			}
			following := g.following[w.id+"_"+o.id]
			status, body := l.send("GET", "/api/profiles/"+o.user+"/", w.token, "", "")
			var p struct{ Following bool }
			if status != 200 || json.Unmarshal(body, &p) != nil || p.Following != following {
				problems = append(problems, fmt.Sprintf("%s follows %s: %t in the log; the profile answers %d %s", w.user, o.user, following, status, body))
			}
			if following {
				follows++
				for id, a := range shown {
					if a.Author == o.user {
						want[id] = true
					}
				}
			}
		}
		var feed []string
		for _, item := range l.pages(t, "/api/articles/feed/", w.token) {
			var a struct{ ID string }
			if err := json.Unmarshal(item, &a); err != nil {
				t.Fatal(err)
			}
			feed = append(feed, a.ID)
		}
		wantIDs := slices.Sorted(maps.Keys(want))
		slices.Sort(feed)
		feeds += len(feed)
		if !slices.Equal(feed, wantIDs) {
			problems = append(problems, fmt.Sprintf("the feed of %s holds %d articles, want the %d of the workers they follow", w.user, len(feed), len(wantIDs)))
		}
	}
	checked = fmt.Sprintf("%d comments on %d articles, %d favorites on %d articles, %d follows, %d articles in %d feeds",
		len(l.social.comments), len(byArticle), favorites, len(shown), follows, feeds, len(l.workers))
	return problems, checked
}

// pages returns the items of every page of the list at path (a list that
// takes cursors), read with token.
func (l *load) pages(t *testing.T, path, token string) []json.RawMessage {
	t.Helper()
	var items []json.RawMessage
	cursor := ""
	for {
		p := path + "?page_size=100"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		status, body := l.send("GET", p, token, "", "")
		if status != 200 {
			t.Fatalf("GET %s: %d %s", p, status, body)
		}
		var page struct {
			Items []json.RawMessage
			Next  *string
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		items = append(items, page.Items...)
		if page.Next == nil || *page.Next == "" {
			return items
		}
		cursor = *page.Next
	}
}

// forgetSocialLost makes the load forget the social writes acknowledged
// before its log was read into g (ackedBefore: ackedWrites then) that
// the log no longer holds, as dropLost does the articles: the comments
// not there (or on an article not there), the pairs not in the state
// their last write made them. It also drops the lost articles from the
// pool. It returns how many it forgot.
func (l *load) forgetSocialLost(g logged, ackedBefore int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for reqID, c := range l.social.comments {
		if c.at <= ackedBefore && (!slices.Contains(g.comments[reqID], c.id) || !g.articles[c.article]) {
			delete(l.social.comments, reqID)
			n++
		}
	}
	for _, pairs := range []struct {
		want map[string]pairState
		got  map[string]bool
	}{{l.social.favored, g.favored}, {l.social.following, g.following}} {
		for pair, st := range pairs.want {
			if st.at <= ackedBefore && pairs.got[pair] != st.on {
				delete(pairs.want, pair)
				n++
			}
		}
	}
	live := map[string]bool{}
	for _, id := range l.acked {
		live[id] = true
	}
	l.pool = slices.DeleteFunc(l.pool, func(id string) bool { return !live[id] })
	return n
}
