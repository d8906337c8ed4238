package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"inkwell/domain"
	"inkwell/readmodels"
)

// Pagination limits.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// MaxCursorLen bounds a cursor parameter (those Inkwell gives are far
// shorter).
const MaxCursorLen = 1024

// parseCursorPage reads a page of a list that also takes a cursor: cursor
// with page_size or limit, or the pages of parsePage.
func parseCursorPage(q url.Values, p domain.Problems) readmodels.Page {
	if !q.Has("cursor") {
		return parsePage(q, p)
	}
	c, ok := queryValue(q, "cursor", p)
	switch {
	case !ok:
		return readmodels.Page{Limit: DefaultPageSize}
	case len(c) > MaxCursorLen:
		p.Add("cursor", "is not a cursor of this list: take next from a list's answer, with the same ordering")
	case q.Has("page") || q.Has("offset"):
		p.Add("cursor", "use cursor, or page or offset, not both")
	}
	page := parsePage(q, p)
	page.Offset, page.Cursor = 0, c
	return page
}

// MaxOffset is how many items page or offset may skip (see
// readmodels.MaxOffset): up to it a page costs about what the first does; a
// deeper one is refused (422, naming page or offset) before anything is
// read, and cursor goes further at the cost of a first page.
const MaxOffset = readmodels.MaxOffset

// toCursor is how Inkwell's lists, which take a cursor, say where to go past
// MaxOffset.
const toCursor = "go further with cursor (take next from the page before)"

// parsePage reads page and page_size, or limit and offset (not both kinds),
// recording a problem naming the parameter for a bad value or for a page
// that skips more than MaxOffset items.
func parsePage(q url.Values, p domain.Problems) readmodels.Page {
	return parseWindow(q, p, toCursor)
}

// parseWindow is parsePage, with further what the problem of a page that
// skips more than MaxOffset items says to do instead.
func parseWindow(q url.Values, p domain.Problems, further string) readmodels.Page {
	num := func(name string, min, max, def int) int {
		s, ok := queryValue(q, name, p)
		if !ok {
			return def
		}
		n, err := strconv.Atoi(s)
		if errors.Is(err, strconv.ErrRange) && digits(s) {
			n, err = math.MaxInt, nil // past any bound: said as a bound (offset's is MaxOffset)
		}
		if err != nil || !digits(s) || n < min || (max > 0 && n > max) {
			if max > 0 {
				p.Add(name, "must be a whole number from "+strconv.Itoa(min)+" to "+strconv.Itoa(max))
			} else {
				p.Add(name, "must be a whole number of at least "+strconv.Itoa(min))
			}
			return def
		}
		return n
	}
	usesPages := q.Has("page") || q.Has("page_size")
	usesOffsets := q.Has("limit") || q.Has("offset")
	if usesPages && usesOffsets {
		p.Add("limit", "use page and page_size, or limit and offset, not both")
		return readmodels.Page{Limit: DefaultPageSize}
	}
	var page readmodels.Page
	if usesOffsets {
		page = readmodels.Page{Limit: num("limit", 1, MaxPageSize, DefaultPageSize), Offset: num("offset", 0, 0, 0)}
		if page.Offset > MaxOffset {
			p.Add("offset", "must be at most "+strconv.Itoa(MaxOffset)+": "+tooDeep(further))
			page.Offset = 0
		}
	} else {
		size := num("page_size", 1, MaxPageSize, DefaultPageSize)
		n := num("page", 1, 0, 1)
		page = readmodels.Page{Limit: size}
		// (n-1)*size > MaxOffset, without overflowing; said only with a
		// page_size that was read, since the problem names it.
		if _, badSize := p["page_size"]; n-1 > MaxOffset/size && !badSize {
			p.Add("page", "must be at most "+strconv.Itoa(MaxOffset/size+1)+" with page_size "+strconv.Itoa(size)+": "+tooDeep(further))
		} else if n-1 <= MaxOffset/size {
			page.Offset = (n - 1) * size
		}
	}
	return page
}

// tooDeep is the problem of a page that skips more than MaxOffset items.
func tooDeep(further string) string {
	return "a page skips at most " + strconv.Itoa(MaxOffset) + " items; " + further
}

// queryValue returns the value of an optional query parameter whose value
// cannot be empty (a number, a boolean, a time), and whether it was given;
// given empty (?page=), it records a problem naming the parameter, as the
// API document has it.
func queryValue(q url.Values, name string, p domain.Problems) (string, bool) {
	if !q.Has(name) {
		return "", false
	}
	s := q.Get(name)
	if s == "" {
		p.Add(name, "must not be empty: leave the parameter out")
		return "", false
	}
	return s, true
}

// digits reports whether s is only ASCII digits: a number in a query is
// written plainly (no sign, no exponent, no spaces).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseBoolParam reads an optional boolean query parameter: true or false.
func parseBoolParam(q url.Values, name string, p domain.Problems) *bool {
	s, ok := queryValue(q, name, p)
	if !ok {
		return nil
	}
	switch s {
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	}
	p.Add(name, "must be true or false")
	return nil
}

// dateOrTime is the form of a date or time parameter, as the API document
// writes it (components/schemas/DateOrTime).
var dateOrTime = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?$`)

// parseTimeParam reads an optional time: RFC 3339, or a date (midnight UTC).
func parseTimeParam(q url.Values, name string, p domain.Problems) *time.Time {
	s, ok := queryValue(q, name, p)
	if !ok {
		return nil
	}
	if !dateOrTime.MatchString(s) { // time.Parse alone also takes 12:00:00,5 and the like
		p.Add(name, "must be a date (2026-01-31) or a time (2026-01-31T12:00:00Z)")
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t
		}
	}
	p.Add(name, "must be a date (2026-01-31) or a time (2026-01-31T12:00:00Z)")
	return nil
}

// optional is a JSON field of a partial update: Set when the field was
// present, Null when it was null.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

func (optional[T]) acceptsNull() {}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ptr returns the value to set (nil when the field is absent). A null value
// gives nullValue, or a field error when nullValue is nil.
func (o optional[T]) ptr(field string, nullValue *T, p domain.Problems) *T {
	switch {
	case !o.Set:
		return nil
	case o.Null && nullValue == nil:
		p.Add(field, "must not be null")
		return nil
	case o.Null:
		return nullValue
	}
	v := o.Value
	return &v
}

// decodeChanges decodes a request R and returns the changes it asks for:
// changes reads them, adding a problem for each field it refuses (all of
// them answered at once, 422).
func decodeChanges[R, C any](w http.ResponseWriter, r *http.Request, changes func(R, domain.Problems) C) (C, error) {
	var req R
	if err := decodeJSON(w, r, &req); err != nil {
		var none C
		return none, err
	}
	p := domain.Problems{}
	ch := changes(req, p)
	return ch, p.Err()
}

// ref is a reference to a category or tag in a request body: its id, number
// or slug, given as a JSON string or number (as the tutorial's "category": 1).
type ref string

var refType = reflect.TypeOf(ref(""))

// UnmarshalJSON implements json.Unmarshaler.
func (r *ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = ref(s)
		return nil
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil && n > 0 {
		*r = ref(strconv.FormatInt(n, 10))
		return nil
	}
	return &json.UnmarshalTypeError{Value: "value " + string(b), Type: refType}
}

// parseIfMatch reads the If-Match header: an article version as its ETag
// ("3", or W/"3"). Absent or "*" gives nil.
func parseIfMatch(r *http.Request) (*uint64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	v, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		return nil, &httpError{status: http.StatusBadRequest, detail: `If-Match must be an ETag such as "3".`,
			fields: map[string]string{"If-Match": `must be an ETag such as "3"`}}
	}
	return &v, nil
}

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }
