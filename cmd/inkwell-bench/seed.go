package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// account is an author of the data set.
type account struct {
	username, password string
	access             string
	article            string // the id of an article of theirs, for updates
}

// dataSet is what seed built.
type dataSet struct {
	run        string // a word of this run, in every title
	authors    []*account
	categories []string
	tags       []string
	slugs      []string
	published  int
	edits      int
}

// seedWorkers is how many requests build the data set at once.
const seedWorkers = 16

// seed builds the data set through the API: authors (each registered from
// an address of its own), an administrator (inkwell createsuperuser) and
// its categories, tags, articles (nine in ten published, each with a
// category and two tags) and edits of one in ten.
func seed(ctx context.Context, c config, s *server) (*dataSet, error) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	d := &dataSet{run: hex.EncodeToString(b)}
	for i := range c.authors {
		d.authors = append(d.authors, &account{username: fmt.Sprintf("author%d_%s", i, d.run), password: "bench password " + d.run})
	}
	if err := parallel(ctx, len(d.authors), s, func(w *worker, i int) error {
		a := d.authors[i]
		// Address i registers author i: the throttle of registrations per
		// address is never reached.
		w = newWorker(1000+i, s.base)
		if err := w.call("POST", "/api/auth/register/", "", map[string]any{
			"username": a.username, "email": a.username + "@bench.example", "password": a.password}, nil); err != nil {
			return err
		}
		return login(w, a)
	}); err != nil {
		return nil, fmt.Errorf("register authors: %w", err)
	}

	admin := &account{username: "admin_" + d.run, password: "bench admin password " + d.run}
	cmd := exec.CommandContext(ctx, c.binary, "createsuperuser", "--username", admin.username, "--email", admin.username+"@bench.example")
	cmd.Env = append(os.Environ(), "INKWELL_PASSWORD="+admin.password, "INKWELL_DATA_DIR="+filepath.Join(s.dir, "data"), "INKWELL_DATABASE_URL="+s.dbURL)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("createsuperuser: %w: %s", err, out)
	}
	w := newWorker(0, s.base)
	if err := login(w, admin); err != nil {
		return nil, fmt.Errorf("administrator: %w", err)
	}
	for i := range 10 {
		var cat struct{ ID string }
		if err := w.call("POST", "/api/categories/", admin.access, map[string]any{"name": fmt.Sprintf("Category %d %s", i, d.run)}, &cat); err != nil {
			return nil, err
		}
		d.categories = append(d.categories, cat.ID)
	}
	for i := range 20 {
		var tag struct{ ID string }
		if err := w.call("POST", "/api/tags/", d.authors[0].access, map[string]any{"name": fmt.Sprintf("tag%d%s", i, d.run)}, &tag); err != nil {
			return nil, err
		}
		d.tags = append(d.tags, tag.ID)
	}

	d.slugs = make([]string, c.articles)
	ids := make([]string, c.articles)
	var published atomic.Int64
	if err := parallel(ctx, c.articles, s, func(w *worker, i int) error {
		a := d.authors[i%len(d.authors)]
		pub := i%10 != 0
		var art struct{ ID, Slug string }
		if err := w.call("POST", "/api/articles/", a.access, map[string]any{
			"title":        fmt.Sprintf("Article %d of %s", i, d.run),
			"content":      strings.Repeat("Words of an article of the benchmark. ", 1+i%20),
			"category":     d.categories[i%len(d.categories)],
			"tags":         []string{d.tags[i%len(d.tags)], d.tags[(i+7)%len(d.tags)]},
			"is_published": pub,
		}, &art); err != nil {
			return err
		}
		d.slugs[i], ids[i] = art.Slug, art.ID
		if pub {
			published.Add(1)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("create articles: %w", err)
	}
	d.published = int(published.Load())
	for i, a := range d.authors {
		if i < len(ids) {
			a.article = ids[i]
		}
	}
	d.edits = c.articles / 10
	if err := parallel(ctx, d.edits, s, func(w *worker, i int) error {
		j := i * 10
		return w.call("PATCH", "/api/articles/"+ids[j]+"/", d.authors[j%len(d.authors)].access, map[string]any{"content": "Edited once."}, nil)
	}); err != nil {
		return nil, fmt.Errorf("edit articles: %w", err)
	}
	return d, nil
}

// relogin gives every author a fresh access token (those of the data set
// may have expired while it was built).
func (d *dataSet) relogin(ctx context.Context, s *server) error {
	return parallel(ctx, len(d.authors), s, func(_ *worker, i int) error {
		return login(newWorker(1000+i, s.base), d.authors[i])
	})
}

func login(w *worker, a *account) error {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := w.call("POST", "/api/auth/login/", "", map[string]any{"username": a.username, "password": a.password}, &tok); err != nil {
		return err
	}
	a.access = tok.AccessToken
	return nil
}

// parallel runs fn for 0..n-1 on seedWorkers workers, stopping at the
// first error.
func parallel(ctx context.Context, n int, s *server, fn func(w *worker, i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for k := range min(seedWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(k, s.base)
			for {
				i := int(next.Add(1)) - 1
				mu.Lock()
				stop := first != nil
				mu.Unlock()
				if i >= n || stop || ctx.Err() != nil {
					return
				}
				if err := fn(w, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
