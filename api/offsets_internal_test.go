package api

import (
	"encoding/json"
	"testing"
)

// The API document bounds page and offset where the server does, so that
// generated clients refuse what the server would.
func TestOffsetBoundIsTheDocuments(t *testing.T) {
	var doc struct {
		Components struct {
			Parameters map[string]struct {
				Schema struct {
					Maximum *int `json:"maximum"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"Offset": MaxOffset, "ConduitOffset": MaxOffset, "Page": MaxOffset + 1} {
		got := doc.Components.Parameters[name].Schema.Maximum
		if got == nil || *got != want {
			t.Errorf("the document's %s has maximum %v, want %d", name, got, want)
		}
	}
}
