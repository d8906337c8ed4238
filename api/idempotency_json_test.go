package api_test

import (
	"net/http"
	"testing"

	"inkwell/api"
)

// A retry with the same Idempotency-Key compares the body as JSON: the same
// value serialised again, with other spacing or another order of its
// members, is the same request and gets the first answer; another value
// (another order of an array's items, one more member, even one with its
// default value) is a 422.
func TestIdempotencyKeyComparesTheBodyAsJSON(t *testing.T) {
	t.Parallel()
	f := newIdemFixture(t)
	first := f.post(t, "ann", "key-j", `{"title": "One", "content": "x", "tags": ["b", "a"]}`)
	if first.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	for _, same := range []string{
		`{"title":"One","content":"x","tags":["b","a"]}`,
		"{\n  \"content\": \"x\",\n  \"tags\": [ \"b\", \"a\" ],\n  \"title\": \"One\"\n}\n",
		`{"title": "\u004fne", "content": "x", "tags": ["b", "a"]}`,
	} {
		if again := f.post(t, "ann", "key-j", same); again.Code != first.Code || again.Header().Get("Idempotency-Replayed") != "true" {
			t.Fatalf("the same JSON as %s: %d %s, want the first answer replayed", same, again.Code, again.Body)
		}
	}
	for _, other := range []string{
		`{"title": "One", "content": "x", "tags": ["a", "b"]}`,
		`{"title": "One", "content": "x", "tags": ["b", "a"], "slug": "one"}`,
		`{"title": "One", "content": "x", "tags": ["b", "a"], "is_published": false}`,
	} {
		if r := f.post(t, "ann", "key-j", other); r.Code != http.StatusUnprocessableEntity || decode[api.Problem](t, r).Errors["Idempotency-Key"] == "" {
			t.Fatalf("another value %s with the key: %d %s, want 422 naming Idempotency-Key", other, r.Code, r.Body)
		}
	}
	if n := f.callCount(); n != 1 {
		t.Fatalf("the command ran %d times, want once", n)
	}
}
