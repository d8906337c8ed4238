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
	"time"
)

// account is an author of the data set.
type account struct {
	username, password string
	access             string
	article            string // the id of an article of theirs, for updates
}

// dataSet is what seed built.
type dataSet struct {
	run     string // a word of this run, in every title
	authors []*account
	// categories are the categories' numbers and tags the tags' names: a
	// client names them so in an article's body, as the README's example
	// does (the API takes ids and slugs too).
	categories []int64
	tags       []string
	slugs      []string
	published  []string // the ids of the published articles
	edits      int
	// follows is how many authors each author follows (the next ones);
	// favorites and comments are how many the data set holds; commented is
	// an article with commentsOnCommented comments.
	follows, favorites, comments int
	commented                    string
}

// The data set's favorites, follows and comments, in proportion: each
// author follows the next followsPerAuthor authors (fewer if there are
// not as many); published article i is favored by i mod 3 authors (about
// one favorite an article); one article in commentedEvery has
// commentsOnCommented comments (half a comment an article).
const (
	followsPerAuthor    = 10
	commentedEvery      = 20
	commentsOnCommented = 10
)

// seedWorkers is how many requests build the data set at once.
const seedWorkers = 16

// seed builds the data set through the API: authors (each registered from
// an address of its own) and whom they follow, an administrator (inkwell
// createsuperuser) and its categories, tags, articles (nine in ten
// published, each with a category and two tags), favorites and comments of
// the published ones, and edits of one in ten.
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

	if err := d.seedFollows(ctx, s); err != nil {
		return nil, fmt.Errorf("follows: %w", err)
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
		var cat struct{ Number int64 }
		if err := w.call("POST", "/api/categories/", admin.access, map[string]any{"name": fmt.Sprintf("Category %d %s", i, d.run)}, &cat); err != nil {
			return nil, err
		}
		d.categories = append(d.categories, cat.Number)
	}
	for i := range 20 {
		var tag struct{ Name string }
		if err := w.call("POST", "/api/tags/", d.authors[0].access, map[string]any{"name": fmt.Sprintf("Tag%d %s", i, d.run)}, &tag); err != nil {
			return nil, err
		}
		d.tags = append(d.tags, tag.Name)
	}

	d.slugs = make([]string, c.articles)
	ids := make([]string, c.articles)
	if err := parallel(ctx, c.articles, s, func(w *worker, i int) error {
		a := d.authors[i%len(d.authors)]
		pub := i%10 != 0
		var art struct{ ID, Slug string }
		if err := w.call("POST", "/api/articles/", a.access, d.article(i, fmt.Sprintf("Article %d of %s", i, d.run),
			strings.Repeat("Words of an article of the benchmark. ", 1+i%20), pub), &art); err != nil {
			return err
		}
		d.slugs[i], ids[i] = art.Slug, art.ID
		return nil
	}); err != nil {
		return nil, fmt.Errorf("create articles: %w", err)
	}
	for i, id := range ids {
		if i%10 != 0 {
			d.published = append(d.published, id)
		}
	}
	for i, a := range d.authors {
		if i < len(ids) {
			a.article = ids[i]
		}
	}
	d.edits = c.articles / 10
	if err := parallel(ctx, d.edits, s, func(w *worker, i int) error {
		j := i * 10
		return w.call("PATCH", "/api/articles/"+ids[j]+"/", d.authors[j%len(d.authors)].access, d.edit(j, "Edited once."), nil)
	}); err != nil {
		return nil, fmt.Errorf("edit articles: %w", err)
	}
	// The authors' tokens of their registration may have expired by now
	// (a large data set takes minutes).
	if err := d.relogin(ctx, s); err != nil {
		return nil, fmt.Errorf("log the authors in again: %w", err)
	}
	if err := d.seedFavoritesAndComments(ctx, s); err != nil {
		return nil, err
	}
	return d, nil
}

// article is the body of a create as a client sends it: the article's k-th
// category by number and two tags by name, as the README's example names
// them.
func (d *dataSet) article(k int, title, content string, published bool) map[string]any {
	return map[string]any{
		"title": title, "content": content, "is_published": published,
		"category": d.categories[k%len(d.categories)],
		"tags":     []string{d.tags[k%len(d.tags)], d.tags[(k+7)%len(d.tags)]},
	}
}

// edit is the body of an update as an editing form sends it: the text
// changed, the category and the tags sent again as they were (article
// k's, as article made them).
func (d *dataSet) edit(k int, content string) map[string]any {
	b := d.article(k, "", content, false)
	delete(b, "title")
	delete(b, "is_published")
	return b
}

// seedFollows has each author follow the next followsPerAuthor authors,
// once their profiles are readable.
func (d *dataSet) seedFollows(ctx context.Context, s *server) error {
	n := len(d.authors)
	d.follows = min(followsPerAuthor, n-1)
	if err := parallel(ctx, n, s, func(w *worker, i int) error {
		for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
			err := w.call("GET", "/api/profiles/"+d.authors[i].username+"/", "", nil, nil)
			if err == nil || time.Since(start) > time.Minute {
				return err
			}
		}
	}); err != nil {
		return err
	}
	return parallel(ctx, n*d.follows, s, func(w *worker, k int) error {
		a, b := d.authors[k/d.follows], d.authors[(k/d.follows+1+k%d.follows)%n]
		return w.call("POST", "/api/profiles/"+b.username+"/follow/", a.access, nil, nil)
	})
}

// seedFavoritesAndComments gives published article i a favorite of i mod 3
// authors, and one in commentedEvery commentsOnCommented comments.
func (d *dataSet) seedFavoritesAndComments(ctx context.Context, s *server) error {
	type write struct {
		article string
		author  *account
		comment string // "": a favorite
	}
	var ws []write
	for i, id := range d.published {
		for k := range i % 3 {
			ws = append(ws, write{article: id, author: d.authors[(i+k)%len(d.authors)]})
		}
		if i%commentedEvery == 0 {
			for k := range commentsOnCommented {
				ws = append(ws, write{article: id, author: d.authors[(i+k)%len(d.authors)], comment: fmt.Sprintf("Comment %d of the benchmark on article %d.", k, i)})
			}
			if d.commented == "" || i == len(d.published)/2/commentedEvery*commentedEvery {
				d.commented = id // one half-way down
			}
		}
	}
	var favorites, comments atomic.Int64
	err := parallel(ctx, len(ws), s, func(w *worker, i int) error {
		x := ws[i]
		if x.comment == "" {
			favorites.Add(1)
			return w.call("POST", "/api/articles/"+x.article+"/favorite/", x.author.access, nil, nil)
		}
		comments.Add(1)
		return w.call("POST", "/api/articles/"+x.article+"/comments/", x.author.access, map[string]any{"body": x.comment}, nil)
	})
	d.favorites, d.comments = int(favorites.Load()), int(comments.Load())
	if err != nil {
		return fmt.Errorf("favorites and comments: %w", err)
	}
	return nil
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
