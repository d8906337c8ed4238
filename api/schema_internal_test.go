package api

import "testing"

// BenchmarkCheckSchema measures the check of an article body against its
// schema, which every POST and PATCH pays.
func BenchmarkCheckSchema(b *testing.B) {
	schemas, err := bodySchemas()
	if err != nil {
		b.Fatal(err)
	}
	schema := schemas["POST /api/articles/"]
	body := []byte(`{"title":"Hello","content":"Some content, a few words long.","tags":["go",1],"category":"news","is_published":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := checkSchema(body, schema); err != nil {
			b.Fatal(err)
		}
	}
}
