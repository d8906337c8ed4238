package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"time"
)

// results are a run's rows; the logins are also kept apart, before the
// writes and right after them.
type results struct {
	rows              []row
	freshLogin, login row
}

func (res *results) add(r row) {
	if r.skipped {
		return
	}
	res.rows = append(res.rows, r)
	fmt.Fprintf(os.Stderr, "  %-34s %3d conns: %8.0f req/s\n", r.what, r.conns, r.reqPerSec)
}

// measure drives each endpoint in turn: the ceiling first, then the reads,
// the logins, the writes and the logins again right after them, each as
// its own run of c.duration. Each phase ends with a reading of the
// server's memory (srv.endPhase).
func measure(ctx context.Context, c config, srv *server, data *dataSet) (*results, error) {
	srv.endPhase("start-up with the data set and the authors' logins")
	res := &results{}
	selected = c.only
	if err := measureReads(ctx, c, srv, data, res); err != nil {
		return nil, err
	}
	srv.endPhase("reads")
	res.freshLogin = measureLogins(ctx, c, srv, data, res, "login, before the writes")
	srv.endPhase("logins before the writes")
	measureWrites(ctx, c, srv, data, res)
	srv.endPhase("writes")
	res.login = measureLogins(ctx, c, srv, data, res, "login, right after the writes")
	srv.endPhase("logins right after the writes")
	if !res.login.skipped {
		time.Sleep(3 * time.Second) // what the process keeps once the burst is over
		srv.endPhase("3 s after the logins")
	}
	return res, nil
}

// measureLogins drives logins of the authors, each worker as one of them.
func measureLogins(ctx context.Context, c config, srv *server, data *dataSet, res *results, what string) row {
	r := drive(ctx, srv, what, c.readConns, c.duration, func(w *worker) (int, error) {
		a := data.authors[w.id%len(data.authors)]
		return w.do("POST", "/api/auth/login/", "", map[string]any{"username": a.username, "password": a.password})
	})
	res.add(r)
	return r
}

// endpoint is a row of the table: its name, and the request a worker sends
// next (asked before every request, so that writes can vary theirs).
type endpoint struct {
	what string
	next func(w *worker) request
}

// get is an endpoint that sends one GET again and again.
func get(what, path, auth string) endpoint {
	r := request{method: "GET", path: path, auth: auth}
	return endpoint{what: what, next: func(*worker) request { return r }}
}

// reads are the read endpoints, driven in this order after the ceiling,
// each by -read-conns workers. An endpoint of another API (the Conduit
// one, say) is one more row: get("Conduit: list 20 articles",
// "/conduit/api/articles?limit=20", ""), with auth "Token "+reader.access
// where it needs a user.
func reads(d *dataSet, halfWay endpoint) []endpoint {
	reader := d.authors[0]            // follows d.follows authors
	slug := d.slugs[len(d.slugs)/2|1] // an odd index: nine in ten are published, and 0 mod 10 are not
	return []endpoint{
		get("list 20 articles", "/api/articles/", ""),
		halfWay,
		get("list 20 articles by title", "/api/articles/?ordering=title", ""),
		get("list 20 articles, the deepest page by number (51)", "/api/articles/?page=51", ""),
		get("one article by slug", "/api/articles/"+slug+"/", ""),
		get("GET /api/auth/me/ (authenticated)", "/api/auth/me/", bearer(reader.access)),
		get("one article, authenticated", "/api/articles/"+slug+"/", bearer(reader.access)),
		get(fmt.Sprintf("list an article's comments (%d of them)", commentsOnCommented), "/api/articles/"+d.commented+"/comments/", ""),
		get(fmt.Sprintf("feed, 20 articles (following %d authors)", d.follows), "/api/articles/feed/", bearer(reader.access)),
		get("a profile, authenticated", "/api/profiles/"+d.authors[1].username+"/", bearer(reader.access)),
		get("Conduit: list 20 articles", "/conduit/api/articles?limit=20", ""),
		get("Conduit: the deepest page by offset (1000)", "/conduit/api/articles?limit=20&offset=1000", ""),
		get(fmt.Sprintf("Conduit: feed, 20 articles (%d authors)", d.follows), "/conduit/api/articles/feed?limit=20", conduitToken(reader.access)),
		get("Conduit: one article by slug, authenticated", "/conduit/api/articles/"+slug, conduitToken(reader.access)),
	}
}

// conduitToken is the Authorization of the Conduit API for token.
func conduitToken(token string) string { return "Token " + token }

// publishedSlug is the slug of the k-th published article, walking the
// odd indexes of d.slugs (0 mod 10 are the drafts).
func (d *dataSet) publishedSlug(k int) string {
	odd := max(1, len(d.slugs)/2)
	return d.slugs[(2*(k%odd)+1)%len(d.slugs)]
}

// writes are the write endpoints driven after the creates, in this order,
// each by -read-conns workers; worker w writes as author w (modulo their
// number) unless said.
func writes(d *dataSet) []endpoint {
	author := func(w *worker) *account { return d.authors[w.id%len(d.authors)] }
	// The workers of a row walk the published articles together: each
	// favorite is a new pair of a user and an article (the data set holds
	// a few of them already), the next author's once every article has
	// one, so that no favorite is one already made, which records nothing.
	var comments, favorites, conduitFavorites atomic.Int64
	return []endpoint{
		{"update article", func(w *worker) request {
			w.n++
			// Author k's article is the k-th of the data set (seed).
			k := w.id % len(d.authors)
			return request{method: "PATCH", path: "/api/articles/" + author(w).article + "/", auth: bearer(author(w).access),
				body: d.edit(k, fmt.Sprintf("Edit %d of worker %d.", w.n, w.id))}
		}},
		{"add a comment", func(w *worker) request {
			k := int(comments.Add(1))
			return request{method: "POST", path: "/api/articles/" + d.published[k%len(d.published)] + "/comments/", auth: bearer(author(w).access),
				body: map[string]any{"body": fmt.Sprintf("Comment %d of the load.", k)}}
		}},
		{"favorite an article", func(w *worker) request {
			k := int(favorites.Add(1))
			a := d.authors[k/len(d.published)%len(d.authors)]
			return request{method: "POST", path: "/api/articles/" + d.published[k%len(d.published)] + "/favorite/", auth: bearer(a.access)}
		}},
		{"Conduit: add a comment", func(w *worker) request {
			k := int(comments.Add(1))
			return request{method: "POST", path: "/conduit/api/articles/" + d.publishedSlug(k) + "/comments", auth: conduitToken(author(w).access),
				body: map[string]any{"comment": map[string]any{"body": fmt.Sprintf("Comment %d of the load.", k)}}}
		}},
		{"Conduit: favorite an article", func(w *worker) request {
			// Half the authors further on than the row above: pairs it
			// has not made.
			k := int(conduitFavorites.Add(1))
			odd := max(1, len(d.slugs)/2)
			a := d.authors[(k/odd+len(d.authors)/2)%len(d.authors)]
			return request{method: "POST", path: "/conduit/api/articles/" + d.publishedSlug(k) + "/favorite", auth: conduitToken(a.access)}
		}},
	}
}

// drives runs each of the endpoints with c.readConns workers.
func drives(ctx context.Context, c config, srv *server, res *results, es []endpoint) {
	for _, e := range es {
		res.add(drive(ctx, srv, e.what, c.readConns, c.duration, func(w *worker) (int, error) { return w.send(e.next(w)) }))
	}
}

func measureReads(ctx context.Context, c config, srv *server, data *dataSet, res *results) error {
	res.add(drive(ctx, srv, ceilingName, c.readConns, c.duration, func(w *worker) (int, error) { return w.do("GET", "/healthz", "", nil) }))
	var halfWay endpoint
	mid, err := cursorHalfWay(ctx, srv, c.articles)
	switch {
	case errors.Is(err, errNoCursors):
		// A build from before cursors: half-way by page.
		halfWay = get("list 20 articles, half-way (page)", "/api/articles/?page="+fmt.Sprint(max(1, len(data.published)/40)), "")
	case err != nil:
		return err
	default:
		halfWay = get("list 20 articles, half-way (cursor)", "/api/articles/?cursor="+url.QueryEscape(mid), "")
	}
	drives(ctx, c, srv, res, reads(data, halfWay))
	return nil
}

func measureWrites(ctx context.Context, c config, srv *server, data *dataSet, res *results) {
	for _, conns := range c.writeConns {
		var seq atomic.Int64
		res.add(drive(ctx, srv, "create article", conns, c.duration, func(w *worker) (int, error) {
			a := data.authors[w.id%len(data.authors)]
			n := int(seq.Add(1))
			return w.do("POST", "/api/articles/", a.access, data.article(n, fmt.Sprintf("Load %d %d %s", conns, n, data.run), "Written under load.", true))
		}))
	}
	if c.createRate > 0 {
		var seq atomic.Int64
		res.add(driveRate(ctx, srv, fmt.Sprintf("create article at %d req/s", c.createRate), c.createRate, c.duration, func(w *worker) (int, error) {
			a := data.authors[w.id%len(data.authors)]
			n := int(seq.Add(1))
			return w.do("POST", "/api/articles/", a.access, data.article(n, fmt.Sprintf("Paced %d %s", n, data.run), "Written at a set rate.", true))
		}))
	}
	drives(ctx, c, srv, res, writes(data))
}

// errNoCursors says that the server's lists give no cursors.
var errNoCursors = errors.New("the lists give no cursors")

// cursorHalfWay walks the published list to its middle and returns the
// cursor there.
func cursorHalfWay(ctx context.Context, s *server, articles int) (string, error) {
	w := newWorker(0, s.base)
	cursor := ""
	for range max(1, articles/200) {
		var page map[string]any
		path := "/api/articles/?page_size=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := w.call("GET", path, "", nil, &page); err != nil {
			return "", err
		}
		next, known := page["next"]
		if !known {
			return "", errNoCursors
		}
		if next == nil {
			break
		}
		cursor, _ = next.(string)
	}
	if cursor == "" {
		return "", errors.New("the article list has a single page: use more -articles")
	}
	return cursor, nil
}
