package domain

import "strings"

// Partial updates: a command names only the fields it changes (nil fields
// stay as they are), its aggregate records in the event only those that
// differ from what it holds, and applying the event sets only those.

// fieldDiff collects the fields of a partial update that change something,
// for the event that records them.
type fieldDiff struct {
	changed bool
}

// set points *dst at a copy of *v when v is given and differs from cur.
func (d *fieldDiff) set(dst **string, cur string, v *string) {
	if v != nil && *v != cur {
		s := *v
		*dst, d.changed = &s, true
	}
}

// setTrimmed is set with v trimmed of surrounding white space (a title, a
// name).
func (d *fieldDiff) setTrimmed(dst **string, cur string, v *string) {
	if v != nil {
		t := strings.TrimSpace(*v)
		v = &t
	}
	d.set(dst, cur, v)
}

// event returns e, the event of the update, or nil when no field changes.
func (d *fieldDiff) event(e Event) Event {
	if !d.changed {
		return nil
	}
	return e
}

// setIf sets *dst to *v when v is given: it applies a field an update
// event records.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// unlessEmpty returns a pointer to s, or nil for "": the field of an input
// that "" leaves to be made (a slug made from a title or a name), as the
// change that would set it.
func unlessEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
