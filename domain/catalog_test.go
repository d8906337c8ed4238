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
	spec, _ := domain.LookupEventSpec("user.registered")
	want := []string{"username", "email", "password_hash", "first_name", "last_name", "bio", "avatar"}
	if !slices.Equal(spec.Personal, want) {
		t.Fatalf("user.registered's personal fields %v, want %v", spec.Personal, want)
	}
	if spec, _ := domain.LookupEventSpec("article.created"); len(spec.Personal) != 0 {
		t.Fatalf("article.created has personal fields %v", spec.Personal)
	}
}
