package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// decodeJSON reads the request body as one JSON object into dst. It answers
// 413 for a body over MaxBodyBytes, 415 for a body that is not JSON, 400 for
// malformed JSON and 422 (naming the field) for a value of the wrong type or
// a field the endpoint does not take.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return newHTTPError(http.StatusUnsupportedMediaType, "The request body must be JSON (Content-Type: application/json).")
		}
	}
	if r.ContentLength > MaxBodyBytes {
		return jsonError(&http.MaxBytesError{Limit: MaxBodyBytes})
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return newHTTPError(http.StatusBadRequest, "Malformed JSON: the body must hold a single JSON object.")
	}
	return nil
}

func jsonError(err error) error {
	var (
		mbe  *http.MaxBytesError
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		fErr = err.Error()
	)
	switch {
	case errors.As(err, &mbe):
		return newHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", MaxBodyBytes))
	case errors.Is(err, io.EOF):
		return newHTTPError(http.StatusBadRequest, "The request body is empty: a JSON object is required.")
	case errors.As(err, &syn):
		return newHTTPError(http.StatusBadRequest, fmt.Sprintf("Malformed JSON at byte %d.", syn.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newHTTPError(http.StatusBadRequest, "Malformed JSON: the body ends too early.")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return newHTTPError(http.StatusBadRequest, "Malformed JSON: the body must be a JSON object.")
		}
		want := "must be " + jsonKind(typ.Type.Kind().String())
		if typ.Type == refType || typ.Type.Kind() == reflect.Slice && typ.Type.Elem() == refType {
			want = "must be an id, a number or a slug"
		}
		return &httpError{status: http.StatusUnprocessableEntity,
			detail: "Invalid input: " + typ.Field + ": " + want, fields: map[string]string{typ.Field: want}}
	case strings.HasPrefix(fErr, "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(fErr, "json: unknown field "), `"`)
		return &httpError{status: http.StatusUnprocessableEntity,
			detail: "Invalid input: " + field + ": is not a field this endpoint accepts",
			fields: map[string]string{field: "is not a field this endpoint accepts"}}
	}
	return newHTTPError(http.StatusBadRequest, "Malformed JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "uint64", "float64", "int32", "uint32":
		return "a number"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}
