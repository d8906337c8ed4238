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

// results are a run's rows and the server's memory along the way.
type results struct {
	rows                                         []row
	login                                        row
	rssStart, rssWrites, rssLogin, rssAfterLogin string
}

func (res *results) add(r row) {
	if r.skipped {
		return
	}
	res.rows = append(res.rows, r)
	fmt.Fprintf(os.Stderr, "  %-34s %3d conns: %8.0f req/s\n", r.what, r.conns, r.reqPerSec)
}

// measure drives each endpoint in turn: the ceiling first, then the reads,
// the writes and the logins, each as its own run of c.duration.
func measure(ctx context.Context, c config, srv *server, data *dataSet) (*results, error) {
	res := &results{rssStart: srv.memory()}
	selected = c.only
	if err := measureReads(ctx, c, srv, data, res); err != nil {
		return nil, err
	}
	measureWrites(ctx, c, srv, data, res)
	res.rssWrites = srv.memory()
	srv.resetPeak() // the peak of the login burst alone
	res.login = drive(ctx, srv, "login", c.readConns, c.duration, func(w *worker) (int, error) {
		a := data.authors[w.id%len(data.authors)]
		return w.do("POST", "/api/auth/login/", "", map[string]any{"username": a.username, "password": a.password})
	})
	res.add(res.login)
	res.rssLogin, res.rssAfterLogin = srv.memory(), "not measured"
	if !res.login.skipped {
		time.Sleep(3 * time.Second) // what the process keeps once the burst is over
		res.rssAfterLogin = srv.memory()
	}
	return res, nil
}

func measureReads(ctx context.Context, c config, srv *server, data *dataSet, res *results) error {
	get := func(what, path, token string) {
		res.add(drive(ctx, srv, what, c.readConns, c.duration, func(w *worker) (int, error) {
			return w.do("GET", path, token, nil)
		}))
	}
	reader := data.authors[0]
	slug := data.slugs[len(data.slugs)/2|1] // an odd index: nine in ten are published, and 0 mod 10 are not
	get(ceilingName, "/healthz", "")
	get("list 20 articles", "/api/articles/", "")
	mid, err := cursorHalfWay(ctx, srv, c.articles)
	switch {
	case errors.Is(err, errNoCursors):
		// A build from before cursors: half-way by page.
		get("list 20 articles, half-way (page)", "/api/articles/?page="+fmt.Sprint(max(1, data.published/40)), "")
	case err != nil:
		return err
	default:
		get("list 20 articles, half-way (cursor)", "/api/articles/?cursor="+url.QueryEscape(mid), "")
	}
	get("list 20 articles by title", "/api/articles/?ordering=title", "")
	get("one article by slug", "/api/articles/"+slug+"/", "")
	get("GET /api/auth/me/ (authenticated)", "/api/auth/me/", reader.access)
	get("one article, authenticated", "/api/articles/"+slug+"/", reader.access)
	return nil
}

func measureWrites(ctx context.Context, c config, srv *server, data *dataSet, res *results) {
	for _, conns := range c.writeConns {
		var seq atomic.Int64
		res.add(drive(ctx, srv, "create article", conns, c.duration, func(w *worker) (int, error) {
			a := data.authors[w.id%len(data.authors)]
			n := seq.Add(1)
			return w.do("POST", "/api/articles/", a.access, map[string]any{
				"title": fmt.Sprintf("Load %d %d %s", conns, n, data.run), "content": "Written under load.", "is_published": true,
			})
		}))
	}
	if c.createRate > 0 {
		var seq atomic.Int64
		res.add(driveRate(ctx, srv, fmt.Sprintf("create article at %d req/s", c.createRate), c.createRate, c.duration, func(w *worker) (int, error) {
			a := data.authors[w.id%len(data.authors)]
			return w.do("POST", "/api/articles/", a.access, map[string]any{
				"title": fmt.Sprintf("Paced %d %s", seq.Add(1), data.run), "content": "Written at a set rate.", "is_published": true,
			})
		}))
	}
	res.add(drive(ctx, srv, "update article", c.readConns, c.duration, func(w *worker) (int, error) {
		a := data.authors[w.id%len(data.authors)]
		w.n++
		return w.do("PATCH", "/api/articles/"+a.article+"/", a.access, map[string]any{"content": fmt.Sprintf("Edit %d of worker %d.", w.n, w.id)})
	}))
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
