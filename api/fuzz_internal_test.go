package api

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"golang.org/x/text/unicode/norm"
)

// bodyKinds are the request bodies the API decodes, one per decoder, with
// the operation whose schema the document gives them.
var bodyKinds = []struct {
	op  string
	new func() any
}{
	{"POST /api/auth/register/", func() any { return new(registerRequest) }},
	{"POST /api/auth/login/", func() any { return new(loginRequest) }},
	{"POST /api/auth/refresh/", func() any { return new(refreshRequest) }},
	{"POST /api/auth/password/", func() any { return new(passwordChangeRequest) }},
	{"POST /api/articles/", func() any { return new(articleCreateRequest) }},
	{"PATCH /api/articles/{ref}/", func() any { return new(articleUpdateRequest) }},
	{"POST /api/categories/", func() any { return new(categoryCreateRequest) }},
	{"PATCH /api/categories/{ref}/", func() any { return new(categoryUpdateRequest) }},
	{"POST /api/tags/", func() any { return new(tagCreateRequest) }},
	{"PATCH /api/users/{ref}/", func() any { return new(userUpdateRequest) }},
	{"PATCH /api/auth/me/", func() any { return new(profileFields) }},
}

// FuzzDecodeBody feeds every request body decoder arbitrary bytes, on the
// route of its operation (so with the document's schema of that body). A
// body is either refused with a client error (400, 413, 415 or 422: never
// anything else, never a panic) or decoded into text that holds no control
// character but tab and line breaks, in NFC (passwords and tokens aside,
// which are kept byte for byte).
func FuzzDecodeBody(f *testing.F) {
	schemas, err := bodySchemas()
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range bodyKinds {
		if schemas[k.op] == nil {
			f.Fatalf("the API document gives %s no body schema", k.op)
		}
	}
	for i := range bodyKinds {
		k := uint8(i)
		f.Add(k, []byte(`{}`))
		f.Add(k, []byte(`null`))
		f.Add(k, []byte(`{"title": "Go", "TITLE": "x"}`))
	}
	f.Add(uint8(0), []byte(`{"username": "john", "email": "john@example.com", "password": "p\u0000ss", "first_name": "Jo\u0301hn"}`))
	f.Add(uint8(4), []byte(`{"title": "Caf\u0065\u0301", "content": "a\tb\nc", "category": 1, "tags": ["go", 2], "author": {"id": 1}}`))
	f.Add(uint8(5), []byte(`{"title": null, "tags": null, "category": null, "content": null}`))
	f.Add(uint8(9), []byte(`{"first_name": "\u202eevil", "is_staff": true, "bio": null}`))
	f.Add(uint8(10), []byte(`{"bio": "x", "bio": "y"}`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		k := bodyKinds[int(kind)%len(bodyKinds)]
		dst := k.new()
		method, path, _ := strings.Cut(k.op, " ")
		r := httptest.NewRequest(method, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		router := mux.NewRouter()
		var err error
		router.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { err = decodeJSON(w, r, dst) })
		var m mux.RouteMatch
		r.URL.Path = strings.ReplaceAll(path, "{ref}", "x")
		if !router.Match(r, &m) {
			t.Fatalf("no route for %s", k.op)
		}
		router.ServeHTTP(httptest.NewRecorder(), r)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) {
				t.Fatalf("%T %q: not an HTTP error: %v", dst, body, err)
			}
			switch he.status {
			case 400, 413, 415, 422:
			default:
				t.Fatalf("%T %q: status %d", dst, body, he.status)
			}
			return
		}
		checkDecoded(t, reflect.ValueOf(dst), false, body)
	})
}

// checkDecoded fails t for a string reachable from v that holds a control
// character (other than tab, line feed, carriage return), or that is not in
// NFC where it should be (raw: under a norm:"raw" field).
func checkDecoded(t *testing.T, v reflect.Value, raw bool, body []byte) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkDecoded(t, v.Elem(), raw, body)
		}
	case reflect.String:
		s := v.String()
		for _, c := range s {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c >= 0x7f && c <= 0x9f {
				t.Fatalf("%q: decoded %q, which holds a control character", body, s)
			}
		}
		if !raw && !norm.NFC.IsNormalString(s) {
			t.Fatalf("%q: decoded %q, which is not in NFC", body, s)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			checkDecoded(t, v.Index(i), raw, body)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				checkDecoded(t, v.Field(i), raw || f.Tag.Get("norm") == "raw", body)
			}
		}
	}
}
