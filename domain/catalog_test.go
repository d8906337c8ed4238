package domain_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"inkwell/domain"
)

// personalByName are JSON fields that are data about a person wherever an
// event carries them.
var personalByName = []string{"username", "email", "password_hash", "first_name", "last_name", "bio", "avatar", "client", "user_agent", "ip", "remote_addr"}

// Every event field that is personal by its name is declared personal, so
// that a new event type cannot carry personal data unmarked; and the
// account's registration marks all of its own.
func TestPersonalFieldsAreDeclared(t *testing.T) {
	t.Parallel()
	for _, spec := range domain.EventSpecs() {
		ty := reflect.TypeOf(spec.New()).Elem()
		for i := 0; i < ty.NumField(); i++ {
			name, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
			if slices.Contains(personalByName, name) && !slices.Contains(spec.Personal, name) {
				t.Errorf("%s: field %s is personal data but not tagged personal:\"true\"", spec.Type, name)
			}
		}
	}
	for _, spec := range domain.EventSpecs() {
		ty := reflect.TypeOf(spec.New()).Elem()
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			// The log seals a personal field in its place: it must hold a
			// string, or a pointer to one.
			if slices.Contains(spec.Personal, name) && f.Type.Kind() != reflect.String &&
				!(f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.String) {
				t.Errorf("%s: personal field %s is a %s, not a string", spec.Type, name, f.Type)
			}
		}
		// Whose data key seals them: the user's own, or the one its
		// subject field names.
		if len(spec.Personal) > 0 && !strings.HasPrefix(spec.Type, "user.") && spec.Subject == "" {
			t.Errorf("%s has personal fields but no field tagged subject:\"true\"", spec.Type)
		}
	}
	spec, _ := domain.LookupEventSpec("user.registered")
	want := []string{"username", "email", "password_hash", "first_name", "last_name", "bio", "avatar"}
	if !slices.Equal(spec.Personal, want) {
		t.Fatalf("user.registered's personal fields %v, want %v", spec.Personal, want)
	}
	// An article's text is its author's: sealed with their key, so that
	// their erasure leaves none of it readable (their drafts included).
	text := []string{"title", "slug", "content", "excerpt", "cover_image"}
	for _, typ := range []string{"article.created", "article.updated"} {
		spec, _ := domain.LookupEventSpec(typ)
		if !slices.Equal(spec.Personal, text) || spec.Subject != "author_id" {
			t.Errorf("%s: personal fields %v of subject %q, want %v of author_id", typ, spec.Personal, spec.Subject, text)
		}
	}
}
