package readmodels

import "inkwell/domain"

// byID returns the aggregate of a row whose first value is the id of an
// aggregate of type typ.
func byID(typ string) func(row []any) domain.StreamID {
	return func(row []any) domain.StreamID { return domain.StreamID{Type: typ, ID: row[0].(string)} }
}

// orderedSet is a set of keys that keeps the order of their first
// appearance (keys lists them so).
type orderedSet struct {
	seen map[string]bool
	keys []string
}

func (s *orderedSet) add(k string) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[k] {
		s.seen[k] = true
		s.keys = append(s.keys, k)
	}
}
