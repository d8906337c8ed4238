package djangoimport

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"

	"inkwell/commands"
	"inkwell/domain"
)

// SourceName is the default source the claims on the rows' keys name
// (domain.ClaimImported): "django". A second Django database imported
// into the same log needs a source of its own (Options.Source), or its
// rows would be taken for the first one's with the same ids.
const SourceName = "django"

// validSource is what a source name may be: it is part of claim names.
var validSource = regexp.MustCompile(`^[a-z0-9]{1,32}$`)

// Recorder records imported rows: the import commands (commands.Imports).
type Recorder interface {
	Lookup(ctx context.Context, source, typ, key string) (string, bool, error)
	ImportUser(ctx context.Context, source, key string, in domain.ImportedAccount, meta domain.Meta) (commands.Imported, error)
	ImportCategory(ctx context.Context, source, key string, in domain.CategoryInput, createdAt time.Time, meta domain.Meta) (commands.Imported, error)
	ImportTag(ctx context.Context, source, key, name, slug string, createdAt time.Time, meta domain.Meta) (commands.Imported, error)
	ImportArticle(ctx context.Context, source, key string, in domain.ImportedArticle, meta domain.Meta) (commands.Imported, error)
}

// Options are an import's settings.
type Options struct {
	Rules
	// Source names the database among those imported into one log:
	// lower-case letters and digits (default SourceName).
	Source string
	// DryRun reads and checks everything, and looks up which rows an
	// earlier import recorded, but records nothing.
	DryRun bool
	// Progress receives a line every ProgressEvery rows of a table, and
	// at its end (nil: none).
	Progress      io.Writer
	ProgressEvery int
	// Meta is the envelope's actor and correlation id of every event.
	Meta domain.Meta
	// Workers is how many rows of a table are recorded at once (default
	// 1: in the order of their keys, so that articles are numbered in the
	// order of their Django ids).
	Workers int
}

// Counts are what became of one table's rows.
type Counts struct {
	Table    string
	Read     int // rows in the table
	Imported int // recorded now (with DryRun: would be)
	Existed  int // recorded by an earlier import
	Skipped  int // broke a rule (see the report), or Inkwell refused them
}

// Result is the outcome of an import.
type Result struct {
	Tables   Tables
	Counts   []Counts // users, categories, tags, articles
	Problems []Problem
	Notices  []Problem
	// MaxPBKDF2Iterations is the highest iteration count of the
	// pbkdf2_sha256 hashes read: the value for the servers'
	// --django-password-iterations.
	MaxPBKDF2Iterations int
	Elapsed             time.Duration
}

// Events is how many rows were recorded now (each one aggregate).
func (r *Result) Events() int {
	n := 0
	for _, c := range r.Counts {
		n += c.Imported
	}
	return n
}

// Import reads the Django database src (its tables discovered already),
// checks every row and, unless opts.DryRun, records those that keep
// Inkwell's rules with rec, in the order their references need: users,
// categories, tags, articles, each by ascending key.
func Import(ctx context.Context, src *Source, rec Recorder, opts Options) (*Result, error) {
	start := time.Now()
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 1000
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.Source == "" {
		opts.Source = SourceName
	}
	if !validSource.MatchString(opts.Source) {
		return nil, fmt.Errorf("source %q: 1 to 32 lower-case letters and digits", opts.Source)
	}
	if opts.Meta.ActorID == "" {
		opts.Meta.ActorID = domain.SystemActorID
	}
	data, problems, err := src.Read(ctx)
	if err != nil {
		return nil, err
	}
	kept, checked, notices := Check(data, src.Tables, opts.Rules)
	res := &Result{Tables: src.Tables, Problems: append(problems, checked...), Notices: notices}
	for _, u := range data.Users {
		if n := pbkdf2Iterations(u.Account.PasswordHash); n > res.MaxPBKDF2Iterations {
			res.MaxPBKDF2Iterations = n
		}
	}
	t := src.Tables
	ids := map[string]map[string]string{} // aggregate type -> Django key -> Inkwell id
	for _, typ := range domain.ImportedAggregateTypes() {
		ids[typ] = map[string]string{}
	}

	// step records one row: it returns the Inkwell id, whether an earlier
	// import recorded it, or an error Inkwell refused the row with (a
	// domain error: the row is skipped and reported) or one that stops
	// the import.
	run := func(table, typ string, read int, keys []string, step func(i int) (commands.Imported, error)) error {
		c := Counts{Table: table, Read: read, Skipped: read - len(keys)}
		var mu sync.Mutex // guards c, ids, res.Problems and done
		done := 0
		report := func() {
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "%s: %d/%d (imported %d, already there %d, skipped %d)\n", table, done, len(keys), c.Imported, c.Existed, c.Skipped)
			}
		}
		recorded, err := lookupMany(ctx, rec, opts.Source, typ, keys)
		if err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		one := func(i int) error {
			key := keys[i]
			var out commands.Imported
			var err error
			if id, ok := recorded[key]; ok {
				out = commands.Imported{ID: id, Existed: true}
			} else if opts.DryRun {
				out.ID, out.Existed, err = rec.Lookup(ctx, opts.Source, typ, key)
				if err == nil && !out.Existed {
					out.ID = "dry-run:" + key
				}
			} else {
				out, err = step(i)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && out.Existed:
				c.Existed++
				ids[typ][key] = out.ID
			case err == nil:
				c.Imported++
				ids[typ][key] = out.ID
			case domain.ErrorCode(err) != domain.EINTERNAL && domain.ErrorCode(err) != domain.EUNAVAILABLE:
				c.Skipped++
				res.Problems = append(res.Problems, Problem{table, key, "refused by Inkwell: " + describe(err)})
			default:
				return fmt.Errorf("%s %s: %w", table, key, err)
			}
			if done++; done%opts.ProgressEvery == 0 {
				report()
			}
			return nil
		}
		// Rows of one table are independent (each claims its own key and
		// values), so several are recorded at once: each waits mostly on
		// round trips to the log.
		var wg sync.WaitGroup
		var failed error
		slots := make(chan struct{}, opts.Workers)
		for i := range keys {
			slots <- struct{}{}
			mu.Lock()
			stop := failed != nil
			mu.Unlock()
			if stop || ctx.Err() != nil {
				<-slots
				break
			}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				if err := one(i); err != nil {
					mu.Lock()
					failed = cmp.Or(failed, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if err := cmp.Or(failed, ctx.Err()); err != nil {
			return err
		}
		report()
		res.Counts = append(res.Counts, c)
		return nil
	}

	meta := opts.Meta
	keysOf := func(n int, key func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = key(i)
		}
		return out
	}
	if err := run(t.User, domain.AggregateUser, len(data.Users), keysOf(len(kept.Users), func(i int) string { return kept.Users[i].Key }), func(i int) (commands.Imported, error) {
		u := kept.Users[i]
		return rec.ImportUser(ctx, opts.Source, u.Key, u.Account, meta)
	}); err != nil {
		return res, err
	}
	if err := run(t.Category, domain.AggregateCategory, len(data.Categories), keysOf(len(kept.Categories), func(i int) string { return kept.Categories[i].Key }), func(i int) (commands.Imported, error) {
		c := kept.Categories[i]
		return rec.ImportCategory(ctx, opts.Source, c.Key, c.Input, orNow(c.CreatedAt), meta)
	}); err != nil {
		return res, err
	}
	if err := run(t.Tag, domain.AggregateTag, len(data.Tags), keysOf(len(kept.Tags), func(i int) string { return kept.Tags[i].Key }), func(i int) (commands.Imported, error) {
		tg := kept.Tags[i]
		return rec.ImportTag(ctx, opts.Source, tg.Key, tg.Name, tg.Slug, orNow(tg.CreatedAt), meta)
	}); err != nil {
		return res, err
	}
	if err := run(t.Article, domain.AggregateArticle, len(data.Articles), keysOf(len(kept.Articles), func(i int) string { return kept.Articles[i].Key }), func(i int) (commands.Imported, error) {
		a := kept.Articles[i]
		in := a.Input
		var ok bool
		if in.AuthorID, ok = ids[domain.AggregateUser][a.AuthorKey]; !ok {
			return commands.Imported{}, domain.Errorf(domain.EINVALID, "author %s %s was not imported", t.User, a.AuthorKey)
		}
		if a.CategoryKey != "" {
			if in.Input.CategoryID, ok = ids[domain.AggregateCategory][a.CategoryKey]; !ok {
				return commands.Imported{}, domain.Errorf(domain.EINVALID, "category %s %s was not imported", t.Category, a.CategoryKey)
			}
		}
		in.Input.Tags = nil
		for _, tk := range a.TagKeys {
			id, ok := ids[domain.AggregateTag][tk]
			if !ok {
				return commands.Imported{}, domain.Errorf(domain.EINVALID, "tag %s %s was not imported", t.Tag, tk)
			}
			in.Input.Tags = append(in.Input.Tags, id)
		}
		return rec.ImportArticle(ctx, opts.Source, a.Key, in, meta)
	}); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// orNow is t, or now for a row without a creation time (a table without
// created_at): the import's time is then the creation's.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t
}

// describe is a domain error's message with its fields.
func describe(err error) string {
	msg := domain.ErrorMessage(err)
	for f, m := range domain.ErrorFields(err) {
		msg += " (" + f + " " + m + ")"
	}
	return msg
}

// pbkdf2Iterations returns the iterations of a pbkdf2_sha256 hash, or 0.
func pbkdf2Iterations(hash string) int {
	var n int
	if _, err := fmt.Sscanf(hash, "pbkdf2_sha256$%d$", &n); err != nil {
		return 0
	}
	return n
}

// manyLooker finds many keys at once (commands.Imports.LookupMany).
type manyLooker interface {
	LookupMany(ctx context.Context, source, typ string, keys []string) (map[string]string, error)
}

// lookupBatch is how many keys are looked up at once.
const lookupBatch = 200

// lookupMany returns the ids of the keys an earlier import recorded, when
// rec finds many at once; else none (each row is then looked up as it is
// recorded).
func lookupMany(ctx context.Context, rec Recorder, source, typ string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	ml, ok := rec.(manyLooker)
	if !ok {
		return out, nil
	}
	for start := 0; start < len(keys); start += lookupBatch {
		found, err := ml.LookupMany(ctx, source, typ, keys[start:min(start+lookupBatch, len(keys))])
		if err != nil {
			return nil, err
		}
		for k, id := range found {
			out[k] = id
		}
	}
	return out, nil
}
