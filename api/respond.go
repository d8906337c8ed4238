package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"inkwell/domain"
	"inkwell/readmodels"
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONStatus(w, status, "application/json", v)
}

// writeJSONStatus answers with v encoded as JSON, under contentType.
func writeJSONStatus(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// A response Inkwell cannot encode is a bug: withRecover logs it,
		// with the request's id, and answers 500.
		panic("api: encode response: " + err.Error())
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ListResponse is the shape of a list answered whole (an article's
// history).
type ListResponse[T any] struct {
	Items []T `json:"items"`
	Count int `json:"count"`
}

// writeList answers with a whole list of items in their response shape.
func writeList[V, R any](w http.ResponseWriter, items []V, count int, shape func(V) R) {
	out := ListResponse[R]{Items: make([]R, 0, len(items)), Count: count}
	for _, v := range items {
		out.Items = append(out.Items, shape(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// PageResponse is the shape of a list that reads in index order: the
// count may be a lower bound, and next is the cursor of the page after.
type PageResponse[T any] struct {
	Items      []T     `json:"items"`
	Count      int     `json:"count"`
	CountExact bool    `json:"count_exact"`
	Next       *string `json:"next"`
}

// writePage answers a list query with a page read in index order.
func writePage[V, R any](w http.ResponseWriter, page readmodels.ListPage[V], shape func(V) R) {
	out := PageResponse[R]{Items: make([]R, 0, len(page.Items)), Count: page.Count, CountExact: page.CountExact}
	if page.Next != "" {
		out.Next = &page.Next
	}
	for _, v := range page.Items {
		out.Items = append(out.Items, shape(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// servePage answers a list query: parse reads the request's parameters
// into the read model's filter (adding a problem for each bad one: 422
// before any read), list reads the page, shape gives each item its
// response shape.
func servePage[F, V, R any](w http.ResponseWriter, r *http.Request, parse func(url.Values, domain.Problems) F,
	list func(context.Context, F) (readmodels.ListPage[V], error), shape func(V) R) error {
	p := domain.Problems{}
	f := parse(r.URL.Query(), p)
	if err := p.Err(); err != nil {
		return err
	}
	page, err := list(r.Context(), f)
	if err != nil {
		return err
	}
	writePage(w, page, shape)
	return nil
}

// serveOne answers a query of one item by the {ref} of its route.
func serveOne[V, R any](w http.ResponseWriter, r *http.Request, get func(context.Context, string) (V, error), shape func(V) R) error {
	v, err := get(r.Context(), pathVar(r, "ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, shape(v))
	return nil
}
