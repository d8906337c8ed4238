package domain

import (
	"encoding/json"
	"fmt"
)

// checkFields reports the first field every event of spec's type carries
// that raw, an event's JSON, lacks, or holds null where null is no value of
// it; an error too if raw is not a JSON object.
//
// It reads the object's keys in one pass without decoding their values (a
// map of every field, decoded before the event itself, was a second decode
// of every event of the log); a body it cannot read so (a key with an
// escape, or broken JSON), or one that fails the check, is checked the
// slow way, which says what is wrong.
func (spec EventSpec) checkFields(eventType string, raw []byte) error {
	var present, null uint64
	if len(spec.fields) > 64 || !scanObject(raw, func(key []byte, isNull bool) {
		for i, f := range spec.fields {
			if f.name == string(key) {
				present |= 1 << i
				null &^= 1 << i
				if isNull {
					null |= 1 << i
				}
				return
			}
		}
	}) {
		return spec.checkFieldsSlowly(eventType, raw)
	}
	for i, f := range spec.fields {
		if present&(1<<i) == 0 || !f.nullable && null&(1<<i) != 0 {
			// Said the slow way: a body that is not JSON at all says so
			// first.
			return spec.checkFieldsSlowly(eventType, raw)
		}
	}
	return nil
}

// checkFieldsSlowly is checkFields decoding the object into a map first.
func (spec EventSpec) checkFieldsSlowly(eventType string, raw []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return fmt.Errorf("decode %q: the body is not a JSON object", eventType)
	}
	for _, f := range spec.fields {
		v, ok := obj[f.name]
		if !ok {
			return fmt.Errorf("decode %q: no field %s", eventType, f.name)
		}
		if !f.nullable && string(v) == "null" {
			return fmt.Errorf("decode %q: field %s is null", eventType, f.name)
		}
	}
	return nil
}

// scanObject calls visit with each key of the JSON object b (in order, a
// key given twice visited twice) and whether its value is null. It returns
// false if b is not an object it can read this way: not an object, a key
// with an escape, or malformed. It does not validate what it skips in
// depth (json.Unmarshal of the event does).
func scanObject(b []byte, visit func(key []byte, isNull bool)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		start := i + 1
		end := start
		for end < len(b) && b[end] != '"' {
			if b[end] == '\\' {
				return false
			}
			end++
		}
		if end >= len(b) {
			return false
		}
		key := b[start:end]
		i = skipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		valueStart := i
		if i = skipValue(b, i); i < 0 {
			return false
		}
		visit(key, string(b[valueStart:i]) == "null")
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value at b[i:], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default: // a number, true, false or null
		start := i
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		if i == start {
			return -1
		}
		return i
	}
}

// skipString returns the index just past the JSON string at b[i:], or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}
