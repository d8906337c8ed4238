package api

import (
	"encoding/json"
	"testing"
)

// The server checks a date or time parameter with the pattern the API
// document gives it, so that the two agree on every value.
func TestDateOrTimePatternIsTheDocuments(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Pattern string `json:"pattern"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Components.Schemas["DateOrTime"].Pattern; got != dateOrTime.String() {
		t.Fatalf("the document's pattern %q, the server's %q", got, dateOrTime.String())
	}
}
