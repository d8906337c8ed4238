package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// decodeJSON reads the request body as one JSON object into dst, a pointer
// to a struct. It answers 413 for a body over MaxBodyBytes, 415 for a body
// that is not JSON, 400 for malformed JSON, and 422 naming the field for a
// body the API document calls invalid: not an object (null, an array...), a
// key that is not exactly one of dst's fields (TITLE is not title) or that
// appears twice, a value of the wrong type, or text holding a control
// character other than a tab or a line break. The strings decoded are put in
// Unicode NFC, so one text has one spelling, but for the fields tagged
// norm:"raw" (passwords and tokens, compared byte for byte).
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	notJSON := newHTTPError(http.StatusUnsupportedMediaType, "The request body must be JSON (Content-Type: application/json).")
	ct := r.Header.Get("Content-Type")
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return notJSON
		}
	}
	if r.ContentLength > MaxBodyBytes {
		return jsonError(&http.MaxBytesError{Limit: MaxBodyBytes})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return jsonError(err)
	}
	if ct == "" && len(bytes.TrimSpace(body)) > 0 {
		// A body of unnamed type is not taken for JSON: what a client
		// sends is what it says it sends.
		return notJSON
	}
	if err := checkBody(body, reflect.TypeOf(dst).Elem()); err != nil {
		return err
	}
	if schema := bodySchema(r); schema != nil {
		if err := checkSchema(body, schema); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	normalize(reflect.ValueOf(dst))
	return nil
}

// refuseUnwantedBody checks the body of a request whose operation takes none
// (the API document gives it no request body): none, or an empty JSON object
// (which some clients send with every POST), is taken; anything else is
// refused as any body is (a key is a 422 naming it, text that is not JSON a
// 415), so that an option a client sends is never silently ignored.
func refuseUnwantedBody(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Body == nil || r.Body == http.NoBody || bodySchema(r) != nil {
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return jsonError(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return decodeJSON(w, r, &struct{}{})
}

// checkBody checks a body's shape against the fields of the struct type t
// (see decodeJSON), reading its tokens once.
func checkBody(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}

	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if !json.Valid(body) {
			return newHTTPError(http.StatusBadRequest, "Malformed JSON.")
		}
		return &httpError{status: http.StatusUnprocessableEntity, detail: "Invalid input: the body must be a JSON object.",
			fields: map[string]string{"body": "must be a JSON object"}}
	}
	fields := jsonFields(t)
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(cutShort(err))
		}
		key := tok.(string)
		switch {
		case fields[key] == nil:
			problem := "is not a field this endpoint accepts"
			for f := range fields {
				if strings.EqualFold(f, key) {
					problem += " (field names are lower case: " + f + ")"
				}
			}
			return fieldProblem(key, problem)
		case seen[key]:
			return fieldProblem(key, "appears more than once")
		}
		seen[key] = true
		if err := checkValue(dec, key, nullable(fields[key])); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonError(cutShort(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newHTTPError(http.StatusBadRequest, "Malformed JSON: the body must hold a single JSON object.")
	}
	return nil
}

// checkValue reads the tokens of one value, refusing text with a control
// character other than a tab or a line break, and a null value where the
// field is not nullable; field names the top-level key the value belongs to.
func checkValue(dec *json.Decoder, field string, nullOK bool) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(cutShort(err))
		}
		switch t := tok.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(t), 64); err != nil {
				return fieldProblem(field, "holds a number out of range")
			}
		case nil:
			if depth == 0 && !nullOK {
				return fieldProblem(field, "must not be null")
			}
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			for _, c := range t {
				if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c >= 0x7f && c <= 0x9f { // C0, DEL, C1
					return fieldProblem(field, "must not contain control characters")
				}
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// cutShort is err, a failure to read a token of a body after its first,
// with the body's end (io.EOF) named for what it is there: a body cut
// short, not an empty one.
func cutShort(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func fieldProblem(field, problem string) error {
	return &httpError{status: http.StatusUnprocessableEntity, detail: "Invalid input: " + field + ": " + problem,
		fields: map[string]string{field: problem}}
}

// nullable reports whether a field of type t may be null in a body: a
// pointer (null is "none"), an optional (the handler says what null means)
// or raw JSON (any value, ignored). A null for any other field would decode
// as nothing at all, where the API document refuses it.
func nullable(t reflect.Type) bool {
	return t.Kind() == reflect.Pointer || t == rawJSONType || t.Implements(nullableType) || reflect.PointerTo(t).Implements(nullableType)
}

// nullableField is implemented by optional: a field type that decodes null.
type nullableField interface{ acceptsNull() }

var (
	nullableType = reflect.TypeOf((*nullableField)(nil)).Elem()
	rawJSONType  = reflect.TypeOf(json.RawMessage(nil))
)

// jsonFields returns the fields of struct type t by their JSON names.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for name, ft := range jsonFields(f.Type) {
				out[name] = ft
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// normalize puts every string reachable from v in NFC, but for struct fields
// tagged norm:"raw".
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(norm.NFC.String(v.String()))
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // raw JSON, bytes
		}
		for i := 0; i < v.Len(); i++ {
			normalize(v.Index(i))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() && f.Tag.Get("norm") != "raw" {
				normalize(v.Field(i))
			}
		}
	}
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
