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
	profile, err := s.conduitAuthors(ctx, len(vs), func(i int) (string, string) { return vs[i].Author.ID, vs[i].Author.Username })
	if err != nil {
		return nil, err
	}
	out := make([]ConduitArticle, 0, len(vs))
	for i, v := range vs {
		author := profile(i)
		tags := make([]string, 0, len(v.Tags))
		for _, t := range v.Tags {
			tags = append(tags, t.Name)
		}
		// The spec's suite expects the names in alphabetical order.
		slices.SortFunc(tags, func(a, b string) int {
			return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
		})
		out = append(out, ConduitArticle{Body: v.Content, ConduitArticleSummary: ConduitArticleSummary{
			Slug: v.Slug, Title: v.Title, Description: v.Excerpt, TagList: tags,
			CreatedAt: conduitTime(v.CreatedAt), UpdatedAt: conduitTime(v.UpdatedAt),
			Favorited: v.Favorited, FavoritesCount: v.FavoritesCount, Author: conduitProfile(author),
		}})
	}
	return out, nil
}

// conduitArticle reads the article id (or slug) for the caller in the
// Conduit shape.
func (s *Server) conduitArticle(ctx context.Context, ref string) (ConduitArticleResponse, error) {
	v, err := s.Articles.ArticleByRef(ctx, actorOf(ctx), ref)
	if err != nil {
		return ConduitArticleResponse{}, err
	}
	as, err := s.conduitArticles(ctx, []articles.View{v})
	if err != nil {
		return ConduitArticleResponse{}, err
	}
	return ConduitArticleResponse{Article: as[0]}, nil
}

// writeConduitList answers a page of articles.
func (s *Server) writeConduitList(w http.ResponseWriter, r *http.Request, vs []articles.View, count int) error {
	as, err := s.conduitArticles(r.Context(), vs)
	if err != nil {
		return err
	}
	out := ConduitArticlesResponse{Articles: make([]ConduitArticleSummary, 0, len(as)), ArticlesCount: count}
	for _, a := range as {
		out.Articles = append(out.Articles, a.ConduitArticleSummary)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// conduitPage reads limit (default 20, at most MaxPageSize) and offset
// (default 0), as Inkwell's own lists read them.
func conduitPage(q url.Values, p domain.Problems) readmodels.Page {
	only := url.Values{}
	for _, k := range []string{"limit", "offset"} {
		if q.Has(k) {
			only[k] = q[k]
		}
	}
	return parsePage(only, p)
}

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
	return s.writeConduitList(w, r, page.Items, page.Count)
}

// handleConduitFeed lists the caller's feed (the published articles of the
// authors they follow, newest first).
func (s *Server) handleConduitFeed(w http.ResponseWriter, r *http.Request) error {
	fs, err := s.follows()
	if err != nil {
		return err
	}
	p := domain.Problems{}
	page := conduitPage(r.URL.Query(), p)
	if err := p.Err(); err != nil {
		return err
	}
	viewer := actorOf(r.Context())
	entries, err := fs.Feed(r.Context(), viewer.ID, page)
	if err != nil {
		return err
	}
	ids := make([]string, len(entries.Items))
	for i, e := range entries.Items {
		ids[i] = e.ArticleID
	}
	vs, err := s.Articles.ArticlesByIDs(r.Context(), viewer, ids)
	if err != nil {
		return err
	}
	return s.writeConduitList(w, r, vs, entries.Count)
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

// handleConduitUpdateArticle changes an article's title, description, body
// or tags (its author or staff: 403 for anyone else). Its slug stays, so
// that links to it hold.
func (s *Server) handleConduitUpdateArticle(w http.ResponseWriter, r *http.Request) error {
	id, err := s.Articles.ArticleID(r.Context(), pathVar(r, "slug"))
	if err != nil {
		return err
	}
	var req conduitUpdateArticleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	a, p := req.Article, domain.Problems{}
	ch := domain.ArticleChanges{Title: a.Title.ptr("title", nil, p), Excerpt: a.Description.ptr("description", nil, p), Content: a.Body.ptr("body", nil, p)}
	if t := a.TagList.ptr("tagList", &[]string{}, p); t != nil {
		names := conduitTagNames(*t)
		ch.Tags = &names
	}
	if err := p.Err(); err != nil {
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
	return s.serveDelete(w, r, domain.AggregateArticle, func(r *http.Request) (string, error) {
		return s.Articles.ArticleID(r.Context(), pathVar(r, "slug"))
	}, func(ctx context.Context, id string) (commands.Result, error) {
		return s.Commands.DeleteArticle.Handle(ctx, commands.DeleteArticle{Actor: actorOf(ctx), ID: id, Meta: metaOf(r)})
	})
}

func (s *Server) handleConduitFavorite(w http.ResponseWriter, r *http.Request) error {
	return s.conduitFavoriteChange(w, r, func(id string) (commands.Result, error) {
		return s.Commands.FavoriteArticle.Handle(r.Context(), commands.FavoriteArticle{Actor: actorOf(r.Context()), ArticleID: id, Meta: metaOf(r)})
	})
}

func (s *Server) handleConduitUnfavorite(w http.ResponseWriter, r *http.Request) error {
	return s.conduitFavoriteChange(w, r, func(id string) (commands.Result, error) {
		return s.Commands.UnfavoriteArticle.Handle(r.Context(), commands.UnfavoriteArticle{Actor: actorOf(r.Context()), ArticleID: id, Meta: metaOf(r)})
	})
}

// conduitFavoriteChange is favoriteChange with the Conduit shape.
func (s *Server) conduitFavoriteChange(w http.ResponseWriter, r *http.Request, run func(id string) (commands.Result, error)) error {
	id, err := s.Articles.ArticleID(r.Context(), pathVar(r, "slug"))
	if err != nil {
		return err
	}
	res, err := run(id)
	if err != nil {
		return err
	}
	res.ID = id
	return s.writeConduitArticle(w, r, http.StatusOK, domain.AggregateFavorite, res)
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
	profile, err := s.conduitAuthors(ctx, len(cs), func(i int) (string, string) { return cs[i].Author.ID, cs[i].Author.Username })
	if err != nil {
		return nil, err
	}
	out := make([]ConduitComment, 0, len(cs))
	for i, c := range cs {
		author := profile(i)
		out = append(out, ConduitComment{ID: c.Number, CreatedAt: conduitTime(c.CreatedAt), UpdatedAt: conduitTime(c.CreatedAt),
			Body: c.Body, Author: conduitProfile(author)})
	}
	return out, nil
}

// handleConduitComments answers an article's comments, oldest first, read
// a page at a time in index order (up to maxConduitComments).
func (s *Server) handleConduitComments(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.comments()
	if err != nil {
		return err
	}
	articleID, err := s.Articles.ArticleID(r.Context(), pathVar(r, "slug"))
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
	cs, err := s.comments()
	if err != nil {
		return err
	}
	articleID, err := s.Articles.ArticleID(r.Context(), pathVar(r, "slug"))
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
		c, err := cs.CommentByID(ctx, actorOf(ctx), articleID, id)
		if err != nil {
			return ConduitCommentResponse{}, err
		}
		out, err := s.conduitComments(ctx, []comments.Comment{c})
		if err != nil {
			return ConduitCommentResponse{}, err
		}
		return ConduitCommentResponse{Comment: out[0]}, nil
	}
	location := "/api/articles/" + articleID + "/comments/" + res.ID + "/"
	return written(s, w, r, domain.AggregateComment, res, location, http.StatusOK, get, func(c ConduitCommentResponse) ConduitCommentResponse { return c })
}

// handleConduitDeleteComment deletes the comment numbered {id} of the
// article: its author, the article's author or staff may (403 for anyone
// else).
func (s *Server) handleConduitDeleteComment(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.comments()
	if err != nil {
		return err
	}
	articleID, err := s.Articles.ArticleID(r.Context(), pathVar(r, "slug"))
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

// conduitAuthors reads the profiles of the authors of n items in one query
// (author gives item i's author id and username) and returns item i's: its
// author's profile, or, for an author the follows read model does not
// know yet, one of the id and username alone.
func (s *Server) conduitAuthors(ctx context.Context, n int, author func(i int) (id, username string)) (func(i int) follows.Profile, error) {
	fs, err := s.follows()
	if err != nil {
		return nil, err
	}
	var ids readmodels.OrderedSet
	for i := range n {
		id, _ := author(i)
		ids.Add(id)
	}
	profiles, err := fs.ProfilesByIDs(ctx, actorOf(ctx), ids.Keys)
	if err != nil {
		return nil, err
	}
	return func(i int) follows.Profile {
		id, username := author(i)
		if p, ok := profiles[id]; ok {
			return p
		}
		return follows.Profile{ID: id, Username: username}
	}, nil
}
