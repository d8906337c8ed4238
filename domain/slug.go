package domain

import (
	"strconv"
	"strings"
	"unicode"
)

// MaxSlugLen bounds slugs (with room for a "-N" suffix within 200).
const MaxSlugLen = 200

// Slugify makes a URL slug from a title: lower-case ASCII letters and digits
// separated by single hyphens. Accented Latin letters lose their accents;
// other characters separate words. A title with nothing usable gives fallback.
func Slugify(title, fallback string) string {
	var b strings.Builder
	pendingHyphen := false
	for _, r := range strings.ToLower(title) {
		r = foldAccent(r)
		if r < unicode.MaxASCII && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			hyphen := pendingHyphen && b.Len() > 0
			if n := b.Len() + 1; n > MaxSlugLen-10 || hyphen && n+1 > MaxSlugLen-10 {
				break // room is kept for a "-N" suffix
			}
			if hyphen {
				b.WriteByte('-')
			}
			pendingHyphen = false
			b.WriteRune(r)
			continue
		}
		pendingHyphen = true
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return fallback
	}
	return s
}

// SlugCandidate returns the n-th slug to try for base: base itself, then
// base-2, base-3, ...
func SlugCandidate(base string, n int) string {
	if n <= 1 {
		return base
	}
	return base + "-" + strconv.Itoa(n)
}

// ValidSlug reports whether s is a well-formed slug.
func ValidSlug(s string) bool {
	if s == "" || len(s) > MaxSlugLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	prevHyphen := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			prevHyphen = false
		case c == '-':
			if prevHyphen {
				return false
			}
			prevHyphen = true
		default:
			return false
		}
	}
	return true
}

// accentFolds lists the accented letters slugs fold, with their plain
// letter.
var accentFolds = []struct {
	from string
	to   rune
}{
	{"àáâãäåā", 'a'}, {"çćč", 'c'}, {"èéêëēę", 'e'}, {"ìíîïī", 'i'}, {"ñń", 'n'},
	{"òóôõöøō", 'o'}, {"ùúûüū", 'u'}, {"ýÿ", 'y'}, {"śšß", 's'}, {"źżž", 'z'}, {"ł", 'l'},
}

func foldAccent(r rune) rune {
	for _, f := range accentFolds {
		if strings.ContainsRune(f.from, r) {
			return f.to
		}
	}
	return r
}
