package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestYAMLToJSON(t *testing.T) {
	t.Parallel()
	got, err := yamlToJSON([]byte(`
b: 1
a: [x, 2, true, null, 1.5, '3']
date: 2026-01-31
quoted: 'a: b'
ref: &r {k: v}
alias: *r
`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b":1,"a":["x",2,true,null,1.5,"3"],"date":"2026-01-31","quoted":"a: b","ref":{"k":"v"},"alias":{"k":"v"}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for name, src := range map[string]string{
		"duplicate key": "paths:\n  /a/: {}\n  /a/: {}\n",
		"merge key":     "base: &b {x: 1}\nother:\n  <<: *b\n",
		"malformed":     "a: [1, 2\n",
	} {
		if _, err := yamlToJSON([]byte(src)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestOpenAPIDocumentIsJSON(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") || len(doc.Paths) == 0 {
		t.Fatalf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
}
