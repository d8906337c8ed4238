package domain

import (
	"fmt"
	"testing"
)

// checkFields, which reads the keys without decoding the body, says what
// the decoding into a map says, on bodies of every kind.
func TestCheckFieldsAsTheMapDoes(t *testing.T) {
	spec := eventSpecs[(&ArticleCreated{}).EventType()]
	if len(spec.fields) < 3 {
		t.Fatalf("%s carries %d fields: too few to check", spec.Type, len(spec.fields))
	}
	var nullable, plain string
	for _, f := range spec.fields {
		if f.nullable && nullable == "" {
			nullable = f.name
		} else if !f.nullable && plain == "" {
			plain = f.name
		}
	}
	if nullable == "" || plain == "" {
		t.Fatalf("%s has no nullable field or no other: %+v", spec.Type, spec.fields)
	}
	whole := func(override string, skip string) string {
		body := "{"
		for _, f := range spec.fields {
			if f.name == skip {
				continue
			}
			v := `"x"`
			if f.name == override {
				v = "null"
			}
			body += fmt.Sprintf("%q: %s, ", f.name, v)
		}
		return body + `"extra": {"nested": ["a", {"b": "}"}], "n": -1.5e3, "t": true}}`
	}
	for _, body := range []string{
		whole("", ""),
		whole(nullable, ""),
		whole(plain, ""),
		whole("", plain),
		whole("", nullable),
		" \n" + whole("", "") + "\t",
		`{}`, `{ }`, `null`, `[]`, `"a"`, ``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1} x`,
		`{"a":"unterminated}`, `{"a\u0062":1}`, `{"a":"esc\"aped"}`,
		fmt.Sprintf(`{%q: null, %q: "again"}`, plain, plain),
	} {
		fast, slow := spec.checkFields(spec.Type, []byte(body)), spec.checkFieldsSlowly(spec.Type, []byte(body))
		if fmt.Sprint(fast) != fmt.Sprint(slow) {
			t.Errorf("body %s: %v, the map says %v", body, fast, slow)
		}
	}
}

func FuzzCheckFields(f *testing.F) {
	f.Add(`{"article_id": "a", "tags": null}`)
	f.Add(`{"a": [1, {"b": "\""}], "c": null}`)
	spec := eventSpecs[(&ArticleCreated{}).EventType()]
	f.Fuzz(func(t *testing.T, body string) {
		fast, slow := spec.checkFields(spec.Type, []byte(body)), spec.checkFieldsSlowly(spec.Type, []byte(body))
		// Broken JSON may pass the keys' check: decoding the event
		// fails then, and says what the map says.
		if fast != nil && fmt.Sprint(fast) != fmt.Sprint(slow) {
			t.Fatalf("body %s: %v, the map says %v", body, fast, slow)
		}
	})
}
