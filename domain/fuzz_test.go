package domain_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"inkwell/domain"
)

// FuzzSlugify: whatever the title, its slug is a valid slug (or the
// fallback), short enough for a "-N" suffix, and made again from itself
// unchanged; every candidate after it is valid too.
func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"Hello, World!", "Ünïcödé Tïtlé", "---", "", "日本語", "a--b", strings.Repeat("ab ", 200), "Go\u200b", "İstanbul ǅemal"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		s := domain.Slugify(title, "article")
		if !domain.ValidSlug(s) {
			t.Fatalf("Slugify(%q) = %q, not a valid slug", title, s)
		}
		if len(s) > domain.MaxSlugLen-10 {
			t.Fatalf("Slugify(%q) = %q: %d bytes leave no room for a suffix", title, s, len(s))
		}
		if again := domain.Slugify(s, "article"); again != s {
			t.Fatalf("Slugify(%q) = %q, but Slugify(%q) = %q", title, s, s, again)
		}
		for _, n := range []int{2, 99, 1_000_000} {
			if c := domain.SlugCandidate(s, n); !domain.ValidSlug(c) {
				t.Fatalf("candidate %d of %q: %q is not valid", n, s, c)
			}
		}
	})
}

// FuzzUsernameAndNames: a username that validates is 1 to 150 of the
// allowed ASCII characters and claims the same stream in any case; a name
// that validates is UTF-8 text of at most its length, with no control,
// invisible or bidi formatting character, and not blank.
func FuzzUsernameAndNames(f *testing.F) {
	for _, s := range []string{"johndoe", "John.Doe+1@x", "jöhn", "a b", "", strings.Repeat("x", 151), "Go\u200b", "\u202eevil", "Café", " "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := domain.NewUser{Username: s, Email: "x@example.com"}.Validate()
		if domain.ErrorFields(err)["username"] == "" {
			if s == "" || len(s) > domain.MaxUsernameLen || strings.IndexFunc(s, func(r rune) bool {
				return !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("@.+-_", r)))
			}) >= 0 {
				t.Fatalf("username %q accepted", s)
			}
			if domain.ClaimStream(domain.ClaimUsername, s) != domain.ClaimStream(domain.ClaimUsername, strings.ToUpper(s)) {
				t.Fatalf("username %q claims another stream in upper case", s)
			}
		}
		if domain.ValidateTagName(s) != nil {
			return
		}
		if !utf8.ValidString(s) || strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > domain.MaxTagNameLen {
			t.Fatalf("tag name %q accepted", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("tag name %q accepted with %U", s, r)
			}
		}
	})
}
