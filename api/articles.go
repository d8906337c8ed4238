package api

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/queries"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
)

// Articles is the articles read model as the API queries it.
type Articles interface {
	ListArticles(ctx context.Context, f articles.Filter) (readmodels.ListPage[articles.View], error)
	ArticleByRef(ctx context.Context, viewer domain.Actor, ref string) (articles.View, error)
	ArticleID(ctx context.Context, ref string) (string, error)
	// ArticleKeysOf returns up to limit of an author's articles (drafts
	// too) after after (nil: from the first), oldest first (the export).
	ArticleKeysOf(ctx context.Context, authorID string, after *articles.Key, limit int) ([]articles.Key, error)
	// ArticlesByIDs returns those of ids the viewer may see, in their
	// order (the feed).
	ArticlesByIDs(ctx context.Context, viewer domain.Actor, ids []string) ([]articles.View, error)
	// FavoritesOf returns up to limit of a user's favorites after the
	// article id after ("": from the first), by article id (the export).
	FavoritesOf(ctx context.Context, userID, after string, limit int) ([]articles.Favorite, error)
}

// registerArticleRoutes mounts the article routes under prefix; the
// tutorial's singular /api/article/ answers like /api/articles/.
func (s *Server) registerArticleRoutes(r *mux.Router, prefix string) {
	r.HandleFunc(prefix+"/", s.optionalAuth(s.handle(s.handleArticleList))).Methods(http.MethodGet)
	r.HandleFunc(prefix+"/", s.authenticated(s.idempotent(s.handle(s.handleArticleCreate)))).Methods(http.MethodPost)
	r.HandleFunc(prefix+"/{ref}/", s.optionalAuth(s.handle(s.handleArticleGet))).Methods(http.MethodGet)
	r.HandleFunc(prefix+"/{ref}/", s.authenticated(s.idempotent(s.handle(s.handleArticleUpdate)))).Methods(http.MethodPatch)
	r.HandleFunc(prefix+"/{ref}/", s.authenticated(s.handle(s.handleArticleDelete))).Methods(http.MethodDelete)
	publish := s.articleChange(s.articleID, domain.AggregateArticle, s.publish, s.writeArticle)
	unpublish := s.articleChange(s.articleID, domain.AggregateArticle, s.unpublish, s.writeArticle)
	r.HandleFunc(prefix+"/{ref}/publish/", s.authenticated(s.idempotent(s.handle(publish)))).Methods(http.MethodPost)
	r.HandleFunc(prefix+"/{ref}/unpublish/", s.authenticated(s.idempotent(s.handle(unpublish)))).Methods(http.MethodPost)
	r.HandleFunc(prefix+"/{ref}/history/", s.authenticated(s.handle(s.handleArticleHistory))).Methods(http.MethodGet)
	s.registerFavoriteRoutes(r, prefix)
}

// ArticleResponse is an article as the API shows it.
type ArticleResponse struct {
	ID          string           `json:"id"`
	Number      int64            `json:"number"`
	Title       string           `json:"title"`
	Slug        string           `json:"slug"`
	Content     string           `json:"content"`
	Excerpt     string           `json:"excerpt"`
	Author      AuthorResponse   `json:"author"`
	Category    *CategorySummary `json:"category"`
	Tags        []TagSummary     `json:"tags"`
	CoverImage  string           `json:"cover_image"`
	IsPublished bool             `json:"is_published"`
	PublishedAt *time.Time       `json:"published_at"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
	WordCount   int              `json:"word_count"`
	ReadingTime int              `json:"reading_time"`
	Version     uint64           `json:"version"`
	// FavoritesCount is how many users favor the article; Favorited
	// whether the caller does (false for an anonymous caller).
	FavoritesCount int64 `json:"favorites_count"`
	Favorited      bool  `json:"favorited"`
}

// AuthorResponse is an article's author.
type AuthorResponse struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// CategorySummary is a category as an article shows it.
type CategorySummary struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	Name   string `json:"name"`
	Slug   string `json:"slug"`
}

// TagSummary is a tag as an article shows it.
type TagSummary struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	Name   string `json:"name"`
	Slug   string `json:"slug"`
}

func articleResponse(v articles.View) ArticleResponse {
	out := ArticleResponse{
		ID: v.ID, Number: v.Number, Title: v.Title, Slug: v.Slug, Content: v.Content, Excerpt: v.Excerpt,
		Author:     AuthorResponse{ID: v.Author.ID, Username: v.Author.Username, FirstName: v.Author.FirstName, LastName: v.Author.LastName},
		Tags:       make([]TagSummary, 0, len(v.Tags)),
		CoverImage: v.CoverImage, IsPublished: v.IsPublished, PublishedAt: v.PublishedAt,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, WordCount: v.WordCount, ReadingTime: v.ReadingTime, Version: v.Version,
		FavoritesCount: v.FavoritesCount, Favorited: v.Favorited,
	}
	if v.Category != nil {
		out.Category = &CategorySummary{ID: v.Category.ID, Number: v.Category.Number, Name: v.Category.Name, Slug: v.Category.Slug}
	}
	for _, t := range v.Tags {
		out.Tags = append(out.Tags, TagSummary{ID: t.ID, Number: t.Number, Name: t.Name, Slug: t.Slug})
	}
	return out
}

func (s *Server) handleArticleList(w http.ResponseWriter, r *http.Request) error {
	return servePage(w, r, func(q url.Values, p domain.Problems) articles.Filter {
		return articles.Filter{
			Viewer:          actorOf(r.Context()),
			Category:        q.Get("category"),
			Tag:             q.Get("tag"),
			Author:          q.Get("author"),
			IsPublished:     parseBoolParam(q, "is_published", p),
			PublishedAfter:  parseTimeParam(q, "published_after", p),
			PublishedBefore: parseTimeParam(q, "published_before", p),
			Search:          q.Get("search"),
			Favorited:       q.Get("favorited"),
			Ordering:        q.Get("ordering"),
			Page:            parseCursorPage(q, p),
		}
	}, s.Articles.ListArticles, articleResponse)
}

func (s *Server) handleArticleGet(w http.ResponseWriter, r *http.Request) error {
	v, err := s.Articles.ArticleByRef(r.Context(), actorOf(r.Context()), pathVar(r, "ref"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(v.Version))
	writeJSON(w, http.StatusOK, articleResponse(v))
	return nil
}

type articleCreateRequest struct {
	Title       string `json:"title"`
	Content     string `json:"content"`
	Excerpt     string `json:"excerpt"`
	Slug        string `json:"slug"`
	Category    *ref   `json:"category"`
	Tags        []ref  `json:"tags"`
	CoverImage  string `json:"cover_image"`
	IsPublished bool   `json:"is_published"`
	// Author is accepted and ignored: the author is always the caller.
	Author json.RawMessage `json:"author"`
}

func (s *Server) handleArticleCreate(w http.ResponseWriter, r *http.Request) error {
	var req articleCreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	in := domain.ArticleInput{
		Title: req.Title, Content: req.Content, Excerpt: req.Excerpt, Slug: req.Slug,
		CoverImage: req.CoverImage, IsPublished: req.IsPublished,
	}
	p := domain.Problems{}
	if req.Category != nil {
		in.CategoryID = s.resolveCategory(r.Context(), string(*req.Category), p)
	}
	in.Tags = s.resolveTags(r.Context(), req.Tags, p)
	if err := p.Err(); err != nil {
		return err
	}
	res, err := s.Commands.CreateArticle.Handle(r.Context(), commands.CreateArticle{Actor: actorOf(r.Context()), Input: in, Meta: metaOf(r)})
	if err != nil {
		if req.Category != nil {
			err = namedAsSent(err, "category", string(*req.Category), in.CategoryID)
		}
		return err
	}
	w.Header().Set("Location", "/api/articles/"+res.ID+"/")
	return s.writeArticle(w, r, http.StatusCreated, domain.AggregateArticle, res)
}

// resolveCategory returns what the command is to resolve for the category
// ref names: ref itself (an id or a slug, which the command resolves against
// the log), or the id of the category a number names. Numbers are the read
// model's names for categories, so the read model translates them; one it
// does not know is a field problem.
func (s *Server) resolveCategory(ctx context.Context, ref string, p domain.Problems) string {
	if !isNumber(ref) {
		return ref
	}
	id, err := s.Categories.CategoryID(ctx, ref)
	if err != nil {
		p.Add("category", "unknown category "+ref)
	}
	return id
}

// namedAsSent returns err with the field problem of field naming sent, the
// reference the client wrote, where it names resolved, the id the API
// translated sent to (a number: see resolveCategory): the command, which
// got the id, finds the category gone in the second the read model's
// number is remembered.
func namedAsSent(err error, field, sent, resolved string) error {
	var e *domain.Error
	if sent == resolved || resolved == "" || !errors.As(err, &e) || !strings.Contains(e.Fields[field], resolved) {
		return err
	}
	fields := maps.Clone(e.Fields)
	fields[field] = strings.ReplaceAll(fields[field], resolved, sent)
	return &domain.Error{Code: e.Code, Message: strings.ReplaceAll(e.Message, resolved, sent), Fields: fields}
}

// resolveTags returns what the command is to resolve for the tags refs
// name: each ref itself (an id, a slug or a name), or the id of the tag a
// number names (as resolveCategory does).
func (s *Server) resolveTags(ctx context.Context, refs []ref, p domain.Problems) []string {
	out := make([]string, 0, len(refs))
	for _, rf := range refs {
		if !isNumber(string(rf)) {
			out = append(out, string(rf))
			continue
		}
		id, err := s.Tags.TagID(ctx, string(rf))
		if err != nil {
			p.Add("tags", "unknown tag "+string(rf))
			continue
		}
		out = append(out, id)
	}
	return out
}

// isNumber reports whether ref is a number, as the read models read one
// (they number categories, tags and articles from 1).
func isNumber(ref string) bool {
	if ref == "" || len(ref) > 18 {
		return false
	}
	n, err := strconv.ParseInt(ref, 10, 64)
	return err == nil && n > 0
}

// writeArticle answers a write (of an aggregate of aggregateType) with the
// article as a read shows it, once the read models have applied the write.
func (s *Server) writeArticle(w http.ResponseWriter, r *http.Request, status int, aggregateType string, res commands.Result) error {
	get := func(ctx context.Context, id string) (articles.View, error) {
		v, err := s.Articles.ArticleByRef(ctx, actorOf(ctx), id)
		if err == nil {
			w.Header().Set("ETag", etag(v.Version))
		}
		return v, err
	}
	return written(s, w, r, aggregateType, res, "/api/articles/"+res.ID+"/", status, get, articleResponse)
}

type articleUpdateRequest struct {
	Title       optional[string] `json:"title"`
	Slug        optional[string] `json:"slug"`
	Content     optional[string] `json:"content"`
	Excerpt     optional[string] `json:"excerpt"`
	Category    optional[ref]    `json:"category"`
	Tags        optional[[]ref]  `json:"tags"`
	CoverImage  optional[string] `json:"cover_image"`
	IsPublished optional[bool]   `json:"is_published"`
	// Author is accepted and ignored: an article's author never changes.
	Author json.RawMessage `json:"author"`
}

// articleID resolves the {ref} of an article route to the article's id.
func (s *Server) articleID(r *http.Request) (string, error) {
	return s.Articles.ArticleID(r.Context(), pathVar(r, "ref"))
}

// conditionalTarget returns the article of the route and the version an
// If-Match header requires of it (nil when none).
func (s *Server) conditionalTarget(r *http.Request) (string, *uint64, error) {
	id, err := s.articleID(r)
	if err != nil {
		return "", nil, err
	}
	ifMatch, err := parseIfMatch(r)
	return id, ifMatch, err
}

func (s *Server) handleArticleUpdate(w http.ResponseWriter, r *http.Request) error {
	id, ifMatch, err := s.conditionalTarget(r)
	if err != nil {
		return err
	}
	var sentCategory string
	ch, err := decodeChanges(w, r, func(req articleUpdateRequest, p domain.Problems) domain.ArticleChanges {
		empty, noRefs := "", []ref{}
		ch := domain.ArticleChanges{
			Title:       req.Title.ptr("title", nil, p),
			Slug:        req.Slug.ptr("slug", nil, p),
			Content:     req.Content.ptr("content", &empty, p),
			Excerpt:     req.Excerpt.ptr("excerpt", &empty, p),
			CoverImage:  req.CoverImage.ptr("cover_image", &empty, p),
			IsPublished: req.IsPublished.ptr("is_published", nil, p),
		}
		if c := req.Category.ptr("category", new(ref), p); c != nil {
			id := s.resolveCategory(r.Context(), string(*c), p)
			ch.CategoryID, sentCategory = &id, string(*c)
		}
		if t := req.Tags.ptr("tags", &noRefs, p); t != nil {
			ids := s.resolveTags(r.Context(), *t, p)
			ch.Tags = &ids
		}
		return ch
	})
	if err != nil {
		return err
	}
	res, err := s.Commands.UpdateArticle.Handle(r.Context(), commands.UpdateArticle{
		Actor: actorOf(r.Context()), ID: id, IfMatch: ifMatch, Changes: ch, Meta: metaOf(r),
	})
	if err != nil {
		if ch.CategoryID != nil {
			err = namedAsSent(err, "category", sentCategory, *ch.CategoryID)
		}
		return err
	}
	return s.writeArticle(w, r, http.StatusOK, domain.AggregateArticle, res)
}

func (s *Server) handleArticleDelete(w http.ResponseWriter, r *http.Request) error {
	id, ifMatch, err := s.conditionalTarget(r)
	if err != nil {
		return err
	}
	res, err := s.Commands.DeleteArticle.Handle(r.Context(), commands.DeleteArticle{
		Actor: actorOf(r.Context()), ID: id, IfMatch: ifMatch, Meta: metaOf(r),
	})
	if err != nil {
		return err
	}
	s.readYourWrites(r.Context(), domain.AggregateArticle, res.Seq)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// publish publishes the article id.
func (s *Server) publish(r *http.Request, id string) (commands.Result, error) {
	return s.Commands.PublishArticle.Handle(r.Context(), commands.PublishArticle{Actor: actorOf(r.Context()), ID: id, Meta: metaOf(r)})
}

// unpublish turns the article id back into a draft.
func (s *Server) unpublish(r *http.Request, id string) (commands.Result, error) {
	return s.Commands.UnpublishArticle.Handle(r.Context(), commands.UnpublishArticle{Actor: actorOf(r.Context()), ID: id, Meta: metaOf(r)})
}

// articleWriter answers a write (res, of an aggregate of aggregateType) of
// an article with status, in the shape of its surface (writeArticle,
// writeConduitArticle).
type articleWriter func(w http.ResponseWriter, r *http.Request, status int, aggregateType string, res commands.Result) error

// articleChange returns the handler that runs run on the article of the
// route (resolve finds its id) and answers the article with write once the
// read models show the change (of an aggregate of aggregateType: the
// article's own, or the caller's favorite of it).
func (s *Server) articleChange(resolve func(*http.Request) (string, error), aggregateType string, run commandOn, write articleWriter) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := resolve(r)
		if err != nil {
			return err
		}
		res, err := run(r, id)
		if err != nil {
			return err
		}
		res.ID = id
		return write(w, r, http.StatusOK, aggregateType, res)
	}
}

// HistoryEntry is one event of an article's history.
type HistoryEntry struct {
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	Version    uint64    `json:"version"`
	OccurredAt time.Time `json:"occurred_at"`
	ActorID    string    `json:"actor_id"`
	Changes    []string  `json:"changes"`
}

func (s *Server) handleArticleHistory(w http.ResponseWriter, r *http.Request) error {
	id, err := s.articleID(r)
	if err != nil {
		return err
	}
	recs, err := s.Queries.ArticleHistory.Handle(r.Context(), queries.ArticleHistory{Actor: actorOf(r.Context()), ID: id})
	if err != nil {
		return err
	}
	writeList(w, recs, len(recs), historyEntry)
	return nil
}

func historyEntry(rec domain.Record) HistoryEntry {
	return HistoryEntry{
		EventID: rec.ID, Type: rec.Type, Version: rec.Version, OccurredAt: rec.OccurredAt.UTC(),
		ActorID: rec.ActorID, Changes: changedFields(rec.Event),
	}
}

// changedFields names the article fields an event set.
func changedFields(ev domain.Event) []string {
	switch e := ev.(type) {
	case *domain.ArticleCreated:
		fields := []string{"title", "slug", "content", "excerpt", "author"}
		if e.CategoryID != "" {
			fields = append(fields, "category")
		}
		if len(e.Tags) > 0 {
			fields = append(fields, "tags")
		}
		if e.CoverImage != "" {
			fields = append(fields, "cover_image")
		}
		if e.IsPublished {
			fields = append(fields, "is_published", "published_at")
		}
		return fields
	case *domain.ArticleUpdated:
		return e.ChangedFields()
	case *domain.ArticlePublished:
		return []string{"is_published", "published_at"}
	case *domain.ArticleUnpublished:
		return []string{"is_published"}
	}
	return []string{}
}
