package follows

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// created applies a run of article creations (consecutive events of a
// batch, none erased) together: each table's rows of the whole run in one
// multi-row statement, and the fan-out to the authors' followers from one
// read of their follows, rather than four statements for each article.
// Under a load of writes, whose answers wait for this read model, a batch is
// mostly such a run; statement by statement, PostgreSQL's round trips made
// this read model the slowest the writes waited for. Nothing in a run
// depends on another of its creations: the follows the fan-out reads change
// only with events that end a run.
func (a applier) created(ctx context.Context, run []domain.Record) error {
	if len(run) == 0 {
		return nil
	}
	var rows, published [][]any
	perAuthor := map[string]int64{}
	var arts []article
	for _, r := range run {
		e := r.Event.(*domain.ArticleCreated)
		rows = append(rows, []any{r.Stream.ID, e.AuthorID, e.IsPublished, dbTime(e.PublishedAt)})
		if e.IsPublished && e.PublishedAt != nil {
			art := article{r.Stream.ID, e.AuthorID, *e.PublishedAt}
			arts = append(arts, art)
			published = append(published, []any{art.author, readmodels.DBTime(art.publishedAt), art.id})
			perAuthor[art.author]++
		}
	}
	err := a.tx.Put(ctx, a.tx.T("follow_articles"), []string{"id", "author_id", "is_published", "published_at"}, []string{"id"}, rows,
		readmodels.ByID(domain.AggregateArticle))
	if err == nil {
		err = a.tx.Put(ctx, a.tx.T("author_articles"), []string{"author_id", "published_at", "id"}, []string{"author_id", "published_at", "id"}, published,
			func(row []any) domain.StreamID { return domain.ArticleStream(row[2].(string)) })
	}
	if err == nil && !a.tx.CountsLater() { // else CountAll counts them and fans them out
		if err = a.countAll(ctx, perAuthor); err == nil {
			err = a.fanOut(ctx, arts)
		}
	}
	if err != nil {
		return fmt.Errorf("events %d..%d (%s): %w", run[0].Seq, run[len(run)-1].Seq, run[0].Type, err)
	}
	return nil
}

// countAll adds delta (by author) to the authors' counts of published
// articles, in one statement for all of them (as count does for one).
func (a applier) countAll(ctx context.Context, delta map[string]int64) error {
	if len(delta) == 0 {
		return nil
	}
	authors := make([]string, 0, len(delta))
	for id := range delta {
		authors = append(authors, id)
	}
	slices.Sort(authors) // rows locked in one order by every writer
	args := make([]any, 0, 2*len(authors))
	for _, id := range authors {
		args = append(args, id, delta[id])
	}
	q := a.t("INSERT INTO %s AS c (author_id, n) VALUES "+strings.TrimSuffix(strings.Repeat("(?, ?), ", len(authors)), ", ")+
		" ON CONFLICT (author_id) DO UPDATE SET n = c.n + excluded.n", "author_counts")
	return a.exec(ctx, q, args...)
}

// fanOut adds published articles to the feed of each of their authors'
// followers (as publish does for one), in the database: one statement joins
// the articles' rows (written by created just before) with their authors'
// follows, so no follower's row travels to Inkwell and back.
func (a applier) fanOut(ctx context.Context, arts []article) error {
	ids := make([]string, len(arts))
	for i, art := range arts {
		ids[i] = art.id
	}
	return projections.ExecWhereIn(ctx, a.tx, a.t("INSERT INTO %s (viewer_id, published_at, article_id, author_id)"+
		" SELECT f.follower_id, p.published_at, p.id, p.author_id FROM %s p JOIN %s f ON f.followee_id = p.author_id"+
		" WHERE p.is_published AND p.id IN (?)"+
		" ORDER BY f.follower_id, p.published_at, p.id"+
		" ON CONFLICT (viewer_id, published_at, article_id) DO UPDATE SET author_id = excluded.author_id",
		"feed", "follow_articles", "follows"), ids)
}
