package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"go.yaml.in/yaml/v4"
)

// openAPIYAML is the OpenAPI 3.1 document of every route, written by hand:
// see the notes at its top for how it is kept true.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is openAPIYAML as JSON, converted once.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) { return yamlToJSON(openAPIYAML) })

// OpenAPIDocument returns the OpenAPI 3.1 document of the API, as served at
// GET /api/openapi.json: api/openapi.yaml converted to JSON, its keys in the
// order they are written. It panics if the embedded YAML is malformed, which
// the tests catch.
func OpenAPIDocument() []byte {
	b, err := openAPIJSON()
	if err != nil {
		panic("api: openapi.yaml: " + err.Error())
	}
	return bytes.Clone(b)
}

// yamlToJSON converts a YAML document to JSON, keeping the order of mapping
// keys (Swagger UI shows paths and fields in document order). It refuses
// what JSON cannot say or what would hide a mistake: duplicate keys, merge
// keys and non-finite numbers.
func yamlToJSON(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeJSONNode(&buf, &doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeJSONList writes n items between start and end, comma-separated,
// each written by item.
func writeJSONList(buf *bytes.Buffer, start, end byte, n int, item func(i int) error) error {
	buf.WriteByte(start)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := item(i); err != nil {
			return err
		}
	}
	buf.WriteByte(end)
	return nil
}

func writeJSONNode(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: expected one YAML document", n.Line)
		}
		return writeJSONNode(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSONNode(buf, n.Alias)
	case yaml.MappingNode:
		seen := make(map[string]bool, len(n.Content)/2)
		return writeJSONList(buf, '{', '}', len(n.Content)/2, func(i int) error {
			k, v := n.Content[2*i], n.Content[2*i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a mapping key must be a scalar", k.Line)
			}
			if k.Value == "<<" && k.Tag == "!!merge" {
				return fmt.Errorf("line %d: merge keys (<<) are not supported", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			seen[k.Value] = true
			key, _ := json.Marshal(k.Value)
			buf.Write(key)
			buf.WriteByte(':')
			return writeJSONNode(buf, v)
		})
	case yaml.SequenceNode:
		return writeJSONList(buf, '[', ']', len(n.Content), func(i int) error { return writeJSONNode(buf, n.Content[i]) })
	case yaml.ScalarNode:
		var v any = n.Value
		if n.Tag != "!!str" && n.Tag != "!!timestamp" && n.Tag != "!!binary" {
			if err := n.Decode(&v); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
		return nil
	}
	return fmt.Errorf("line %d: unexpected YAML node", n.Line)
}
