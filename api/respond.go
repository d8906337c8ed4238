package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"inkwell/projections"
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
func writePage[V, R any](w http.ResponseWriter, page projections.ListPage[V], shape func(V) R) {
	out := PageResponse[R]{Items: make([]R, 0, len(page.Items)), Count: page.Count, CountExact: page.CountExact}
	if page.Next != "" {
		out.Next = &page.Next
	}
	for _, v := range page.Items {
		out.Items = append(out.Items, shape(v))
	}
	writeJSON(w, http.StatusOK, out)
}
