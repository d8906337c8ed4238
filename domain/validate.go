package domain

import (
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field limits, shared by validation and the API documentation.
const (
	MaxUsernameLen = 150
	MaxEmailLen    = 254
	MaxNameLen     = 150
	MaxBioLen      = 10000
	MaxURLLen      = 500
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// validUsername reports whether s is 1 to 150 characters of ASCII letters,
// digits and "_.@+-" (Django's username rule, restricted to ASCII so that
// look-alike characters cannot imitate another user's name).
func validUsername(s string) bool {
	if s == "" || len(s) > MaxUsernameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '.' || c == '@' || c == '+' || c == '-':
		default:
			return false
		}
	}
	return true
}

// validEmail reports whether s is a plain address such as "john@example.com".
func validEmail(s string) bool {
	if s == "" || len(s) > MaxEmailLen {
		return false
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	host := s[at+1:]
	return strings.Contains(host, ".") && !strings.HasPrefix(host, ".") && !strings.HasSuffix(host, ".") ||
		host == "localhost"
}

// validURL reports whether s is an absolute http or https URL of at most max bytes.
func validURL(s string, max int) bool {
	if len(s) > max {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// The checks of a field's value take a pointer to it: nil is a field that a
// partial update leaves as it is, and passes.

// checkText records a problem if v is not valid UTF-8, holds control
// characters other than newlines and tabs (when multiline), or exceeds max
// runes. Single-line text is a name (a title, a tag or category name, a first
// or last name): it must also hold no invisible character (see invisible), so
// that what a reader sees is all there is to it. Multi-line text (content, a
// bio, a description) keeps what its writer typed, zero-width joiners of an
// emoji and all.
func checkText(p Problems, field string, v *string, max int, multiline bool) {
	if v == nil {
		return
	}
	s := *v
	if !utf8.ValidString(s) {
		p.Add(field, "must be valid UTF-8")
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		p.Add(field, "must be at most "+itoa(max)+" characters")
		return
	}
	for _, r := range s {
		if (r < 0x20 && !(multiline && (r == '\n' || r == '\r' || r == '\t'))) || r >= 0x7f && r <= 0x9f { // C0, DEL, C1
			p.Add(field, "must not contain control characters")
			return
		}
		if !multiline && invisible(r) {
			p.Add(field, "must not contain invisible or bidirectional formatting characters (such as U+200B or U+202E)")
			return
		}
	}
}

// checkName records a problem if name, a single-line name the field
// requires (a title, a category or tag name), is blank or breaks checkText.
func checkName(p Problems, field string, name *string, max int) {
	if name != nil && strings.TrimSpace(*name) == "" {
		p.Add(field, "must not be empty")
		return
	}
	checkText(p, field, name, max, false)
}

// checkURL records a problem if s, an optional link (an avatar, a cover
// image), is neither nil, empty nor an http or https URL of at most MaxURLLen
// bytes.
func checkURL(p Problems, field string, s *string) {
	if s != nil && *s != "" && !validURL(*s, MaxURLLen) {
		p.Add(field, "must be an http or https URL of at most 500 characters")
	}
}

// checkSlug records a problem if s is not a well-formed slug.
func checkSlug(p Problems, field string, s *string) {
	if s != nil && !ValidSlug(*s) {
		p.Add(field, "must be lower-case letters, digits and single hyphens, at most 200 characters")
	}
}

// invisible reports whether r changes how a name reads without being seen:
// a default-ignorable code point, which Unicode says renders as nothing (a
// format character: bidi controls U+202A-U+202E and U+2066-U+2069,
// zero-width U+200B-U+200D, the BOM U+FEFF, the soft hyphen...; the
// combining grapheme joiner U+034F; the Hangul fillers U+115F, U+1160,
// U+3164, U+FFA0), a line or paragraph separator, the blank Braille
// pattern U+2800 (a glyph that shows nothing), or a noncharacter
// (U+FDD0-U+FDEF, and the last two of every plane: U+FFFE, U+FFFF...),
// which text for interchange never holds. Variation selectors, default
// ignorable too, are let by: they choose how the character before them is
// drawn (the emoji in "I ❤️ Go"), and hide nothing.
func invisible(r rune) bool {
	switch {
	case r == 0x2028, r == 0x2029, r == 0x2800,
		r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
		return true
	}
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point)
}

// ValidatePassword checks a new password against Inkwell's policy: 8 to 1024
// characters, not only whitespace.
func ValidatePassword(field, pw string) error {
	p := Problems{}
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		p.Add(field, "must be valid UTF-8")
	case n < MinPasswordLen:
		p.Add(field, "must be at least "+itoa(MinPasswordLen)+" characters")
	case n > MaxPasswordLen:
		p.Add(field, "must be at most "+itoa(MaxPasswordLen)+" characters")
	case strings.TrimSpace(pw) == "":
		p.Add(field, "must not be blank")
	}
	return p.Err()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
