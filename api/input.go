package api

import (
	"inkwell/domain"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Every query parameter and the path are checked once, at the edge, before
// any handler reads them: text that is not UTF-8, or that holds control
// characters, can mean nothing to Inkwell and would reach the database (where
// PostgreSQL refuses it and SQLite's LIKE stops at a NUL). Such a request
// is a 400, whatever the route, naming the parameter (or "path", or "query"
// for a malformed query or a parameter name).

// badText reports whether s is not UTF-8 or holds a control character.
func badText(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, c := range s {
		if c < 0x20 || c >= 0x7f && c <= 0x9f { // C0, DEL, C1
			return true
		}
	}
	return false
}

const textProblem = "must be UTF-8 text without control characters"

const pathProblem = "must not hold empty, . or .. segments"

// cleanPath reports whether path is absolute and holds no empty segment (but
// for the trailing slash) and no . or .. segment: the one spelling of the
// resource it names, which the router would otherwise redirect to.
func cleanPath(path string) bool {
	if path == "" || path[0] != '/' {
		return false
	}
	segments := strings.Split(path[1:], "/")
	for i, seg := range segments {
		if seg == "." || seg == ".." || seg == "" && i != len(segments)-1 {
			return false
		}
	}
	return true
}

// repeatedProblem is what a parameter given more than once is told.
const repeatedProblem = "is given more than once: give it once (a list of names is comma-separated)"

// withCleanInput refuses a request whose path or query holds bad text, or a
// query parameter given more than once.
func (s *Server) withCleanInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if badText(r.URL.Path) {
			s.writeError(w, r, &httpError{status: http.StatusBadRequest, detail: "Invalid path: it " + textProblem + ".",
				fields: map[string]string{"path": textProblem}})
			return
		}
		if !cleanPath(r.URL.Path) {
			s.writeError(w, r, &httpError{status: http.StatusBadRequest, detail: "Invalid path: it " + pathProblem + ".",
				fields: map[string]string{"path": pathProblem}})
			return
		}
		q, err := parseQuery(r.URL.RawQuery)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for name, values := range q {
			if badText(name) {
				s.writeError(w, r, &httpError{status: http.StatusBadRequest, detail: "Invalid query: a parameter name " + textProblem + ".",
					fields: map[string]string{"query": "a parameter name " + textProblem}})
				return
			}
			if len(values) > 1 && name != "" {
				// One value a parameter: the handlers read the first, so a
				// second (?tag=a&tag=b, meant as both) would go unheard.
				s.writeError(w, r, &httpError{status: http.StatusBadRequest,
					detail: "Invalid query parameter " + strconv.Quote(name) + ": it " + repeatedProblem + ".",
					fields: map[string]string{name: repeatedProblem}})
				return
			}
			for _, v := range values {
				if badText(v) {
					field := name
					if field == "" {
						field = "query"
					}
					s.writeError(w, r, &httpError{status: http.StatusBadRequest, detail: "Invalid query parameter " + strconv.Quote(name) + ": it " + textProblem + ".",
						fields: map[string]string{field: textProblem}})
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// parseQuery parses a raw query, refusing a malformed one (a bad
// percent-escape, a semicolon) that url.Values would quietly drop parts of.
func parseQuery(raw string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, &httpError{status: http.StatusBadRequest, detail: "Invalid query: " + err.Error() + ".",
			fields: map[string]string{"query": "is malformed"}}
	}
	return q, nil
}

// required names each empty one of the fields, given as name and value
// pairs: a 422 listing them all, or nil.
func required(fields ...string) error {
	p := domain.Problems{}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			p.Add(fields[i], "is required")
		}
	}
	return p.Err()
}
