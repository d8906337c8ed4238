package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
)

// ConduitArticleSummary is an article in a Conduit list (the spec's lists
// leave its body out).
type ConduitArticleSummary struct {
	Slug           string         `json:"slug"`
	Title          string         `json:"title"`
	Description    string         `json:"description"`
	TagList        []string       `json:"tagList"`
	CreatedAt      conduitTime    `json:"createdAt"`
	UpdatedAt      conduitTime    `json:"updatedAt"`
	Favorited      bool           `json:"favorited"`
	FavoritesCount int64          `json:"favoritesCount"`
	Author         ConduitProfile `json:"author"`
}

// ConduitArticle is an article on the Conduit surface.
type ConduitArticle struct {
	ConduitArticleSummary
	Body string `json:"body"`
}

// ConduitArticleResponse is the answer of an article's read and writes.
type ConduitArticleResponse struct {
	Article ConduitArticle `json:"article"`
}

// ConduitArticlesResponse is a page of articles: articlesCount counts them
// all (up to readmodels.CountBound where no kept count covers the filter).
type ConduitArticlesResponse struct {
	Articles      []ConduitArticleSummary `json:"articles"`
	ArticlesCount int                     `json:"articlesCount"`
}

// conduitArticles shapes vs for the viewer, their authors' profiles read
// in one query for the page.
func (s *Server) conduitArticles(ctx context.Context, vs []articles.View) ([]ConduitArticle, error) {
	author := func(v articles.View) (string, string) { return v.Author.ID, v.Author.Username }
	return withConduitAuthors(s, ctx, vs, author, conduitArticleOf)
}

// conduitArticleOf is v in the Conduit shape, with its author's profile.
func conduitArticleOf(v articles.View, author ConduitProfile) ConduitArticle {
	tags := make([]string, 0, len(v.Tags))
	for _, t := range v.Tags {
		tags = append(tags, t.Name)
	}
	// The spec's suite expects the names in alphabetical order.
	slices.SortFunc(tags, func(a, b string) int {
		return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
	})
	return ConduitArticle{Body: v.Content, ConduitArticleSummary: ConduitArticleSummary{
		Slug: v.Slug, Title: v.Title, Description: v.Excerpt, TagList: tags,
		CreatedAt: conduitTime(v.CreatedAt), UpdatedAt: conduitTime(v.UpdatedAt),
		Favorited: v.Favorited, FavoritesCount: v.FavoritesCount, Author: author,
	}}
}

// conduitArticle reads the article id (or slug) for the caller in the
// Conduit shape.
func (s *Server) conduitArticle(ctx context.Context, ref string) (ConduitArticleResponse, error) {
	get := func() (articles.View, error) { return s.Articles.ArticleByRef(ctx, actorOf(ctx), ref) }
	a, err := conduitOne(ctx, get, s.conduitArticles)
	return ConduitArticleResponse{Article: a}, err
}

// conduitOne reads one item (get) and shapes it as shape shapes a list.
func conduitOne[T, R any](ctx context.Context, get func() (T, error), shape func(context.Context, []T) ([]R, error)) (R, error) {
	var none R
	v, err := get()
	if err != nil {
		return none, err
	}
	out, err := shape(ctx, []T{v})
	if err != nil {
		return none, err
	}
	return out[0], nil
}

// writeConduitList answers a page of articles.
func (s *Server) writeConduitList(w http.ResponseWriter, r *http.Request, page readmodels.ListPage[articles.View]) error {
	as, err := s.conduitArticles(r.Context(), page.Items)
	if err != nil {
		return err
	}
	out := ConduitArticlesResponse{Articles: make([]ConduitArticleSummary, 0, len(as)), ArticlesCount: page.Count}
	for _, a := range as {
		out.Articles = append(out.Articles, a.ConduitArticleSummary)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// conduitPage reads limit (default 20, at most MaxPageSize) and offset
// (default 0, at most MaxOffset), as Inkwell's own lists read them. The
// RealWorld spec has no cursor, so a deeper offset is refused with what a
// Conduit client can do instead.
func conduitPage(q url.Values, p domain.Problems) readmodels.Page {
	only := url.Values{}
	for _, k := range []string{"limit", "offset"} {
		if q.Has(k) {
			only[k] = q[k]
		}
	}
	return parseWindow(only, p, conduitPastMaxOffset)
}

// conduitPastMaxOffset says what a Conduit client past MaxOffset can do.
const conduitPastMaxOffset = "narrow the list (tag, author, favorited), or read it from Inkwell's own API (/api/articles/, /api/articles/feed/), whose cursor goes further"

// handleConduitArticles lists the published articles, newest first, by tag,
// author or favoriting user (their usernames), each read in index order.
func (s *Server) handleConduitArticles(w http.ResponseWriter, r *http.Request) error {
	q, p := r.URL.Query(), domain.Problems{}
	published := true
	f := articles.Filter{
		Viewer: actorOf(r.Context()), Tag: q.Get("tag"), Author: q.Get("author"), Favorited: q.Get("favorited"),
		IsPublished: &published, Ordering: "-created_at", Page: conduitPage(q, p),
	}
	if err := p.Err(); err != nil {
		return err
	}
	page, err := s.Articles.ListArticles(r.Context(), f)
	if err != nil {
		return err
	}
	return s.writeConduitList(w, r, page)
}

// handleConduitFeed lists the caller's feed (the published articles of the
// authors they follow, newest first).
func (s *Server) handleConduitFeed(w http.ResponseWriter, r *http.Request) error {
	page, err := s.feed(r, conduitPage)
	if err != nil {
		return err
	}
	return s.writeConduitList(w, r, page)
}

func (s *Server) handleConduitArticle(w http.ResponseWriter, r *http.Request) error {
	a, err := s.conduitArticle(r.Context(), pathVar(r, "slug"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

type conduitNewArticleRequest struct {
	Article struct {
		Title       string   `json:"title"`
		Description string   `json:"description"`
		Body        string   `json:"body"`
		TagList     []string `json:"tagList"`
	} `json:"article"`
}

// handleConduitCreateArticle creates a published article (Conduit has no
// drafts), creating the tags of its tagList that do not exist yet.
func (s *Server) handleConduitCreateArticle(w http.ResponseWriter, r *http.Request) error {
	var req conduitNewArticleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	a := req.Article
	in := domain.ArticleInput{Title: a.Title, Content: a.Body, Excerpt: a.Description, Tags: conduitTagNames(a.TagList), IsPublished: true}
	if err := in.Validate(); err != nil {
		return err
	}
	if err := s.ensureTags(r, in.Tags); err != nil {
		return err
	}
	res, err := s.Commands.CreateArticle.Handle(r.Context(), commands.CreateArticle{Actor: actorOf(r.Context()), Input: in, Meta: metaOf(r)})
	if err != nil {
		return err
	}
	return s.writeConduitArticle(w, r, http.StatusCreated, domain.AggregateArticle, res)
}

// conduitArticleID resolves the {slug} of a Conduit article route to the
// article's id.
func (s *Server) conduitArticleID(r *http.Request) (string, error) {
	return s.Articles.ArticleID(r.Context(), pathVar(r, "slug"))
}

// conduitTagNames returns the names of a tagList, trimmed, each once
// (without regard to case, as Inkwell's tag names are unique), in order.
func conduitTagNames(list []string) []string {
	out, seen := make([]string, 0, len(list)), map[string]bool{}
	for _, t := range list {
		t = strings.TrimSpace(t)
		if t == "" || seen[strings.ToLower(t)] {
			continue
		}
		seen[strings.ToLower(t)] = true
		out = append(out, t)
	}
	return out
}

// ensureTags creates those of names that are not tags yet, through the
// same command and rules as POST /api/tags/ (any authenticated user may
// create a tag; names are checked and unique without regard to case). A
// tag created by a racing request is as good as one created here.
func (s *Server) ensureTags(r *http.Request, names []string) error {
	for _, n := range names {
		if err := domain.ValidateTagName(n); err != nil {
			return &domain.Error{Code: domain.EINVALID, Message: "Invalid tag " + n + ": " + domain.ErrorMessage(err),
				Fields: map[string]string{"tagList": "holds an invalid tag name: " + n}}
		}
	}
	for _, n := range names {
		_, err := s.Commands.CreateTag.Handle(r.Context(), commands.CreateTag{Actor: actorOf(r.Context()), Name: n, Meta: metaOf(r)})
		if err != nil && !errors.Is(err, commands.ErrTagExists) {
			return err
		}
	}
	return nil
}

// writeConduitArticle answers a write of an article (of an aggregate of
// aggregateType) once the read models show it.
func (s *Server) writeConduitArticle(w http.ResponseWriter, r *http.Request, status int, aggregateType string, res commands.Result) error {
	get := func(ctx context.Context, id string) (ConduitArticleResponse, error) { return s.conduitArticle(ctx, id) }
	return written(s, w, r, aggregateType, res, "/api/articles/"+res.ID+"/", status, get, func(a ConduitArticleResponse) ConduitArticleResponse { return a })
}

type conduitUpdateArticleRequest struct {
	Article struct {
		Title       optional[string]   `json:"title"`
		Description optional[string]   `json:"description"`
		Body        optional[string]   `json:"body"`
		TagList     optional[[]string] `json:"tagList"`
		// The article's other fields, which front ends send back as they
		// read them (the Angular one does), are accepted and ignored:
		// they are not the writer's to change.
		Slug           json.RawMessage `json:"slug"`
		CreatedAt      json.RawMessage `json:"createdAt"`
		UpdatedAt      json.RawMessage `json:"updatedAt"`
		Favorited      json.RawMessage `json:"favorited"`
		FavoritesCount json.RawMessage `json:"favoritesCount"`
		Author         json.RawMessage `json:"author"`
	} `json:"article"`
}

func (req conduitUpdateArticleRequest) changes(p domain.Problems) domain.ArticleChanges {
	a := req.Article
	ch := domain.ArticleChanges{Title: a.Title.ptr("title", nil, p), Excerpt: a.Description.ptr("description", nil, p), Content: a.Body.ptr("body", nil, p)}
	if t := a.TagList.ptr("tagList", &[]string{}, p); t != nil {
		names := conduitTagNames(*t)
		ch.Tags = &names
	}
	return ch
}

// handleConduitUpdateArticle changes an article's title, description, body
// or tags (its author or staff: 403 for anyone else). Its slug stays, so
// that links to it hold.
func (s *Server) handleConduitUpdateArticle(w http.ResponseWriter, r *http.Request) error {
	id, err := s.conduitArticleID(r)
	if err != nil {
		return err
	}
	ch, err := decodeChanges(w, r, conduitUpdateArticleRequest.changes)
	if err != nil {
		return err
	}
	if err := ch.Validate(); err != nil {
		return err
	}
	if ch.Tags != nil {
		if err := s.ensureTags(r, *ch.Tags); err != nil {
			return err
		}
	}
	res, err := s.Commands.UpdateArticle.Handle(r.Context(), commands.UpdateArticle{Actor: actorOf(r.Context()), ID: id, Changes: ch, Meta: metaOf(r)})
	if err != nil {
		return err
	}
	return s.writeConduitArticle(w, r, http.StatusOK, domain.AggregateArticle, res)
}

func (s *Server) handleConduitDeleteArticle(w http.ResponseWriter, r *http.Request) error {
	return s.serveDelete(w, r, domain.AggregateArticle, s.conduitArticleID, func(ctx context.Context, id string) (commands.Result, error) {
		return s.Commands.DeleteArticle.Handle(ctx, commands.DeleteArticle{Actor: actorOf(ctx), ID: id, Meta: metaOf(r)})
	})
}

// conduitFavoriteChange is the articleChange of a favorite in the Conduit
// shape.
func (s *Server) conduitFavoriteChange(run commandOn) handlerFunc {
	return s.articleChange(s.conduitArticleID, domain.AggregateFavorite, run, s.writeConduitArticle)
}

// ConduitComment is a comment on the Conduit surface: its id is the
// comment's number (Inkwell's ids are UUIDs; the spec's are integers).
// Comments are never edited, so updatedAt is createdAt.
type ConduitComment struct {
	ID        int64          `json:"id"`
	CreatedAt conduitTime    `json:"createdAt"`
	UpdatedAt conduitTime    `json:"updatedAt"`
	Body      string         `json:"body"`
	Author    ConduitProfile `json:"author"`
}

// ConduitCommentResponse is the answer of a comment's creation.
type ConduitCommentResponse struct {
	Comment ConduitComment `json:"comment"`
}

// ConduitCommentsResponse is an article's comments.
type ConduitCommentsResponse struct {
	Comments []ConduitComment `json:"comments"`
}

// maxConduitComments bounds the comments of one answer (Conduit's list has
// no pages): the first ones, oldest first.
const maxConduitComments = 5 * MaxPageSize

// conduitComments shapes cs for the caller, their authors' profiles read
// in one query.
func (s *Server) conduitComments(ctx context.Context, cs []comments.Comment) ([]ConduitComment, error) {
	author := func(c comments.Comment) (string, string) { return c.Author.ID, c.Author.Username }
	return withConduitAuthors(s, ctx, cs, author, func(c comments.Comment, author ConduitProfile) ConduitComment {
		return ConduitComment{ID: c.Number, CreatedAt: conduitTime(c.CreatedAt), UpdatedAt: conduitTime(c.CreatedAt), Body: c.Body, Author: author}
	})
}

// handleConduitComments answers an article's comments, oldest first, read
// a page at a time in index order (up to maxConduitComments).
func (s *Server) handleConduitComments(w http.ResponseWriter, r *http.Request) error {
	cs, articleID, err := s.articleComments(r, s.conduitArticleID)
	if err != nil {
		return err
	}
	var all []comments.Comment
	page := readmodels.Page{Limit: MaxPageSize}
	for len(all) < maxConduitComments {
		got, err := cs.ListComments(r.Context(), comments.Filter{Viewer: actorOf(r.Context()), ArticleID: articleID, Page: page})
		if err != nil {
			return err
		}
		all = append(all, got.Items...)
		if got.Next == "" {
			break
		}
		page.Cursor = got.Next
	}
	out, err := s.conduitComments(r.Context(), all)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ConduitCommentsResponse{Comments: out})
	return nil
}

type conduitNewCommentRequest struct {
	Comment struct {
		Body string `json:"body"`
	} `json:"comment"`
}

// handleConduitAddComment adds a comment (answered 200, as the spec has
// it).
func (s *Server) handleConduitAddComment(w http.ResponseWriter, r *http.Request) error {
	cs, articleID, err := s.articleComments(r, s.conduitArticleID)
	if err != nil {
		return err
	}
	var req conduitNewCommentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := s.Commands.AddComment.Handle(r.Context(), commands.AddComment{
		Actor: actorOf(r.Context()), ArticleID: articleID, Body: req.Comment.Body, Meta: metaOf(r),
	})
	if err != nil {
		return err
	}
	get := func(ctx context.Context, id string) (ConduitCommentResponse, error) {
		comment := func() (comments.Comment, error) { return cs.CommentByID(ctx, actorOf(ctx), articleID, id) }
		c, err := conduitOne(ctx, comment, s.conduitComments)
		return ConduitCommentResponse{Comment: c}, err
	}
	location := "/api/articles/" + articleID + "/comments/" + res.ID + "/"
	return written(s, w, r, domain.AggregateComment, res, location, http.StatusOK, get, func(c ConduitCommentResponse) ConduitCommentResponse { return c })
}

// handleConduitDeleteComment deletes the comment numbered {id} of the
// article: its author, the article's author or staff may (403 for anyone
// else).
func (s *Server) handleConduitDeleteComment(w http.ResponseWriter, r *http.Request) error {
	cs, articleID, err := s.articleComments(r, s.conduitArticleID)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(pathVar(r, "id"), 10, 64)
	if err != nil || !isNumber(pathVar(r, "id")) {
		return domain.ErrCommentNotFound
	}
	return s.serveDelete(w, r, domain.AggregateComment, func(r *http.Request) (string, error) {
		return cs.CommentIDByNumber(r.Context(), n)
	}, func(ctx context.Context, id string) (commands.Result, error) {
		return s.Commands.DeleteComment.Handle(ctx, commands.DeleteComment{Actor: actorOf(ctx), ArticleID: articleID, ID: id, Meta: metaOf(r)})
	})
}

// ConduitTagsResponse is the Conduit surface's tags: their names, up to
// MaxPageSize of them.
type ConduitTagsResponse struct {
	Tags []string `json:"tags"`
}

func (s *Server) handleConduitTags(w http.ResponseWriter, r *http.Request) error {
	page, err := s.Tags.ListTags(r.Context(), "", readmodels.Page{Limit: MaxPageSize})
	if err != nil {
		return err
	}
	out := ConduitTagsResponse{Tags: make([]string, 0, len(page.Items))}
	for _, t := range page.Items {
		out.Tags = append(out.Tags, t.Name)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// withConduitAuthors shapes items for the caller, each with its author's
// profile (author gives an item's author id and username), the profiles
// read in one query. An author the follows read model does not know yet has
// a profile of the id and username alone.
func withConduitAuthors[T, R any](s *Server, ctx context.Context, items []T, author func(T) (id, username string),
	shape func(item T, author ConduitProfile) R) ([]R, error) {
	fs, err := s.follows()
	if err != nil {
		return nil, err
	}
	var ids readmodels.OrderedSet
	for _, it := range items {
		id, _ := author(it)
		ids.Add(id)
	}
	profiles, err := fs.ProfilesByIDs(ctx, actorOf(ctx), ids.Keys)
	if err != nil {
		return nil, err
	}
	out := make([]R, 0, len(items))
	for _, it := range items {
		id, username := author(it)
		p, ok := profiles[id]
		if !ok {
			p = follows.Profile{ID: id, Username: username}
		}
		out = append(out, shape(it, conduitProfile(p)))
	}
	return out, nil
}
