package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
)

// A request body is checked against the schema the API document gives it,
// as it was sent (before its text is put in NFC), so that the server refuses
// every body the document calls invalid, whichever limit, pattern or type
// it breaks; the handler and the domain then check what the document cannot
// say. The document is the one Inkwell serves, read once.

// bodySchemas maps "METHOD /path/template/" to the schema of the
// operation's JSON request body.
var bodySchemas = sync.OnceValues(func() (map[string]*openapi3.Schema, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("api: load the OpenAPI document: %w", err)
	}
	out := map[string]*openapi3.Schema{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
				out[method+" "+path] = mt.Schema.Value
			}
		}
	}
	return out, nil
})

// bodySchema returns the schema of the body of r's operation, nil when the
// document gives it none.
func bodySchema(r *http.Request) *openapi3.Schema {
	route := mux.CurrentRoute(r)
	if route == nil {
		return nil
	}
	tpl, err := route.GetPathTemplate()
	if err != nil {
		return nil
	}
	schemas, err := bodySchemas()
	if err != nil {
		panic(err.Error()) // the embedded document is broken: the tests catch it
	}
	return schemas[r.Method+" "+tpl]
}

// checkSchema validates a body (well-formed JSON, one object) against
// schema: a 422 naming the first field the document refuses.
func checkSchema(body []byte, schema *openapi3.Schema) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return jsonError(err)
	}
	// kin-openapi's own validator: its JSON Schema 2020-12 one compiles the
	// schema at every call (1 ms and 240 KB a body, against 15 µs), and
	// falls back to this one for schemas with references, as the document's
	// are.
	err := schema.VisitJSON(v, openapi3.VisitAsRequest())
	if err == nil {
		return nil
	}
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		return fieldProblem("body", "does not match the API document")
	}
	se = innermost(se)
	field, problem := "body", describe(se)
	if path := se.JSONPointer(); len(path) > 0 {
		field = path[0]
		if se.SchemaField == "required" || se.SchemaField == "additionalProperties" {
			problem = map[string]string{"required": "is required", "additionalProperties": "is not a field this endpoint accepts"}[se.SchemaField]
		} else if len(path) > 1 {
			problem = "at " + strings.Join(path[1:], "/") + ": " + problem
		}
	}
	if problem == "" {
		problem = "does not match the API document"
	}
	return fieldProblem(field, problem)
}

// describe says in words what the value breaks, as the other field errors
// of the API do.
func describe(se *openapi3.SchemaError) string {
	sc := se.Schema
	if sc == nil {
		return se.Reason
	}
	switch se.SchemaField {
	case "minLength":
		if sc.MinLength == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters", sc.MinLength)
	case "maxLength":
		if sc.MaxLength != nil {
			return fmt.Sprintf("must be at most %d characters", *sc.MaxLength)
		}
	case "maxItems":
		if sc.MaxItems != nil {
			return fmt.Sprintf("must have at most %d items", *sc.MaxItems)
		}
	case "pattern":
		return "must match the pattern " + sc.Pattern
	case "nullable":
		return "must not be null"
	}
	return se.Reason
}

// innermost follows an error about a value made of others (an object, a
// oneOf) to the first error about one of its parts.
func innermost(se *openapi3.SchemaError) *openapi3.SchemaError {
	for {
		var me openapi3.MultiError
		if !errors.As(se.Origin, &me) || len(me) == 0 {
			return se
		}
		var sub *openapi3.SchemaError
		if !errors.As(me[0], &sub) || len(sub.JSONPointer()) < len(se.JSONPointer()) {
			return se
		}
		se = sub
	}
}
