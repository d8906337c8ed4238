package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
)

// Categories is the categories read model as the API queries it.
type Categories interface {
	ListCategories(ctx context.Context, p readmodels.Page) (readmodels.ListPage[articles.Category], error)
	// CategoryByRef and CategoryID return ENOTFOUND if there is no such category.
	CategoryByRef(ctx context.Context, ref string) (articles.Category, error)
	CategoryID(ctx context.Context, ref string) (string, error)
}

// Tags is the tags read model as the API queries it.
type Tags interface {
	ListTags(ctx context.Context, search string, p readmodels.Page) (readmodels.ListPage[articles.Tag], error)
	// TagByRef and TagID return ENOTFOUND if there is no such tag.
	TagByRef(ctx context.Context, ref string) (articles.Tag, error)
	TagID(ctx context.Context, ref string) (string, error)
}

func (s *Server) registerTaxonomyRoutes(r *mux.Router) {
	r.HandleFunc("/api/categories/", s.optionalAuth(s.handle(s.handleCategoryList))).Methods(http.MethodGet)
	r.HandleFunc("/api/categories/", s.authenticated(s.idempotent(s.handle(s.handleCategoryCreate)))).Methods(http.MethodPost)
	r.HandleFunc("/api/categories/{ref}/", s.optionalAuth(s.handle(s.handleCategoryGet))).Methods(http.MethodGet)
	r.HandleFunc("/api/categories/{ref}/", s.authenticated(s.idempotent(s.handle(s.handleCategoryUpdate)))).Methods(http.MethodPatch)
	r.HandleFunc("/api/categories/{ref}/", s.authenticated(s.handle(s.handleCategoryDelete))).Methods(http.MethodDelete)
	r.HandleFunc("/api/tags/", s.optionalAuth(s.handle(s.handleTagList))).Methods(http.MethodGet)
	r.HandleFunc("/api/tags/", s.authenticated(s.idempotent(s.handle(s.handleTagCreate)))).Methods(http.MethodPost)
	r.HandleFunc("/api/tags/{ref}/", s.optionalAuth(s.handle(s.handleTagGet))).Methods(http.MethodGet)
}

// CategoryResponse is a category as the API shows it.
type CategoryResponse struct {
	ID          string    `json:"id"`
	Number      int64     `json:"number"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func categoryResponse(c articles.Category) CategoryResponse {
	return CategoryResponse{ID: c.ID, Number: c.Number, Name: c.Name, Slug: c.Slug, Description: c.Description,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// TagResponse is a tag as the API shows it.
type TagResponse struct {
	ID        string    `json:"id"`
	Number    int64     `json:"number"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	CreatedAt time.Time `json:"created_at"`
}

func tagResponse(t articles.Tag) TagResponse {
	return TagResponse{ID: t.ID, Number: t.Number, Name: t.Name, Slug: t.Slug, CreatedAt: t.CreatedAt}
}

func (s *Server) handleCategoryList(w http.ResponseWriter, r *http.Request) error {
	return servePage(w, r, parseCursorPage, s.Categories.ListCategories, categoryResponse)
}

func (s *Server) handleCategoryGet(w http.ResponseWriter, r *http.Request) error {
	return serveOne(w, r, s.Categories.CategoryByRef, categoryResponse)
}

type categoryCreateRequest struct {
	Name        string `json:"name"`
	Slug        string `json:"slug"`
	Description string `json:"description"`
}

func (s *Server) handleCategoryCreate(w http.ResponseWriter, r *http.Request) error {
	var req categoryCreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := s.Commands.CreateCategory.Handle(r.Context(), commands.CreateCategory{
		Actor: actorOf(r.Context()), Input: domain.CategoryInput{Name: req.Name, Slug: req.Slug, Description: req.Description}, Meta: metaOf(r),
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/categories/"+res.ID+"/")
	return s.writeCategory(w, r, http.StatusCreated, res)
}

func (s *Server) writeCategory(w http.ResponseWriter, r *http.Request, status int, res commands.Result) error {
	return written(s, w, r, domain.AggregateCategory, res, "/api/categories/"+res.ID+"/", status, s.Categories.CategoryByRef, categoryResponse)
}

type categoryUpdateRequest struct {
	Name        optional[string] `json:"name"`
	Slug        optional[string] `json:"slug"`
	Description optional[string] `json:"description"`
}

func (req categoryUpdateRequest) changes(p domain.Problems) domain.CategoryChanges {
	empty := ""
	return domain.CategoryChanges{
		Name:        req.Name.ptr("name", nil, p),
		Slug:        req.Slug.ptr("slug", nil, p),
		Description: req.Description.ptr("description", &empty, p),
	}
}

func (s *Server) handleCategoryUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := s.categoryID(r)
	if err != nil {
		return err
	}
	ch, err := decodeChanges(w, r, categoryUpdateRequest.changes)
	if err != nil {
		return err
	}
	res, err := s.Commands.UpdateCategory.Handle(r.Context(), commands.UpdateCategory{Actor: actorOf(r.Context()), ID: id, Changes: ch, Meta: metaOf(r)})
	if err != nil {
		return err
	}
	return s.writeCategory(w, r, http.StatusOK, res)
}

// categoryID returns the id of the category the route's {ref} names.
func (s *Server) categoryID(r *http.Request) (string, error) {
	return s.Categories.CategoryID(r.Context(), pathVar(r, "ref"))
}

func (s *Server) handleCategoryDelete(w http.ResponseWriter, r *http.Request) error {
	return s.serveDelete(w, r, domain.AggregateCategory, s.categoryID, func(ctx context.Context, id string) (commands.Result, error) {
		return s.Commands.DeleteCategory.Handle(ctx, commands.DeleteCategory{Actor: actorOf(ctx), ID: id, Meta: metaOf(r)})
	})
}

func (s *Server) handleTagList(w http.ResponseWriter, r *http.Request) error {
	search := r.URL.Query().Get("search")
	return servePage(w, r, parseCursorPage, func(ctx context.Context, page readmodels.Page) (readmodels.ListPage[articles.Tag], error) {
		return s.Tags.ListTags(ctx, search, page)
	}, tagResponse)
}

func (s *Server) handleTagGet(w http.ResponseWriter, r *http.Request) error {
	return serveOne(w, r, s.Tags.TagByRef, tagResponse)
}

type tagCreateRequest struct {
	Name string `json:"name"`
}

func (s *Server) handleTagCreate(w http.ResponseWriter, r *http.Request) error {
	var req tagCreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := s.Commands.CreateTag.Handle(r.Context(), commands.CreateTag{Actor: actorOf(r.Context()), Name: req.Name, Meta: metaOf(r)})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/tags/"+res.ID+"/")
	return written(s, w, r, domain.AggregateTag, res, "/api/tags/"+res.ID+"/", http.StatusCreated, s.Tags.TagByRef, tagResponse)
}
