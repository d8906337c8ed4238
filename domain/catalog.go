package domain

import (
	"encoding/json"
	"reflect"
	"strings"
)

// eventSpecs is the catalogue of every event type Inkwell knows, by its
// persisted name. It is immutable. A new event type is added here, beside
// its struct (whose EventType method gives the name).
var eventSpecs = catalogue(
	// Accounts (user.go) and the set of active superusers (roster.go).
	specOf[UserRegistered]("password_hash"),
	specOf[UserProfileUpdated](),
	specOf[UserRolesChanged](),
	specOf[UserDeleted](),
	specOf[UserErased](),
	specOf[UserSessionsRevoked](),
	specOf[UserPasswordChanged]("password_hash"),
	specOf[UserDisabled](),
	specOf[UserEnabled](),
	specOf[SuperuserAdded](),
	specOf[SuperuserRemoved](),

	// Sessions (session.go).
	specOf[SessionStarted](),
	specOf[SessionRefreshed](),
	specOf[SessionEnded](),
	specOf[SessionRevoked](),

	// Articles (article.go), categories and tags (category.go).
	specOf[ArticleCreated](),
	specOf[ArticleUpdated](),
	specOf[ArticlePublished](),
	specOf[ArticleUnpublished](),
	specOf[ArticleDeleted](),
	specOf[CategoryCreated](),
	specOf[CategoryUpdated](),
	specOf[CategoryDeleted](),
	specOf[TagCreated](),

	// Uniqueness claims (claim.go), creations given up (event.go) and
	// events a read model skips (projection.go).
	specOf[ClaimTaken](),
	specOf[ClaimReleased](),
	specOf[CreationAbandoned](),
	specOf[EventSkipped](),

	// Losses of the log an operator accepted (eventlog.go).
	specOf[LossAccepted](),
)

// specOf is the spec of event type E, its name taken from E's EventType so
// that it is written once; sensitive lists the JSON fields that never leave
// the system. A type with personal fields is at schema version 2, the
// version from which the log holds those fields sealed (encrypted with the
// data key of the person the event is about); version 1 is the same shape
// in clear text, written before Inkwell sealed personal data.
func specOf[E any, P interface {
	*E
	Event
}](sensitive ...string) EventSpec {
	spec := EventSpec{Type: P(new(E)).EventType(), Version: 1, New: func() Event { return P(new(E)) }, Sensitive: sensitive}
	t := reflect.TypeFor[E]()
	spec.Personal = personalFields(t)
	spec.Subject = subjectField(t)
	if len(spec.Personal) > 0 {
		spec.Version, spec.SealedFrom = 2, 2
		spec.Upcast = map[int]func(json.RawMessage) (json.RawMessage, error){
			1: func(raw json.RawMessage) (json.RawMessage, error) { return raw, nil },
		}
	}
	return spec
}

// catalogue indexes specs by name, with the fields each event always
// carries.
func catalogue(specs ...EventSpec) map[string]EventSpec {
	out := make(map[string]EventSpec, len(specs))
	for _, s := range specs {
		if _, dup := out[s.Type]; dup {
			panic("domain: event type registered twice: " + s.Type)
		}
		t := reflect.TypeOf(s.New()).Elem()
		s.fields = eventFields(t)
		out[s.Type] = s
	}
	return out
}

// personalFields lists the JSON names of the fields of struct type t
// tagged personal:"true".
func personalFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("personal") != "true" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// subjectField is the JSON name of the field of struct type t tagged
// subject:"true" (the id of the user the event is about), or "".
func subjectField(t reflect.Type) string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("subject") == "true" {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			return name
		}
	}
	return ""
}
