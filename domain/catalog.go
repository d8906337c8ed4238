package domain

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// aggregates is the catalogue of every aggregate type Inkwell knows, each
// with the event types of its streams; it is the one place an aggregate is
// registered. Everything that lists aggregate types (the log's subjects, the
// event stream's filter, the read models that follow every aggregate, the
// reference of the events) reads it. A new aggregate is added here, its
// events beside their structs (whose EventType methods give the names, each
// "<aggregate>.<what happened>").
var aggregates = []AggregateSpec{
	// Accounts (user.go), the set of active superusers (roster.go) and
	// logins (session.go).
	aggregate(AggregateUser, "UUID", "an account",
		specOf[UserRegistered]("password_hash"),
		specOf[UserProfileUpdated](),
		specOf[UserRolesChanged](),
		specOf[UserDeleted](),
		specOf[UserErased](),
		specOf[UserSessionsRevoked](),
		specOf[UserPasswordChanged]("password_hash"),
		specOf[UserPasswordRehashed]("password_hash"),
		specOf[UserDisabled](),
		specOf[UserEnabled](),
	),
	aggregate(AggregateSession, "UUID", "a login: a family of refresh tokens",
		specOf[SessionStarted](),
		specOf[SessionRefreshed](),
		specOf[SessionEnded](),
		specOf[SessionRevoked](),
	),

	// Articles (article.go), categories and tags (category.go).
	aggregate(AggregateArticle, "UUID", "an article",
		specOf[ArticleCreated](),
		specOf[ArticleUpdated](),
		specOf[ArticlePublished](),
		specOf[ArticleUnpublished](),
		specOf[ArticleDeleted](),
	),
	aggregate(AggregateCategory, "UUID", "a category",
		specOf[CategoryCreated](),
		specOf[CategoryUpdated](),
		specOf[CategoryDeleted](),
	),
	aggregate(AggregateTag, "UUID", "a tag",
		specOf[TagCreated](),
	),

	// Comments on articles (comment.go).
	aggregate(AggregateComment, "UUID", "a comment on an article",
		specOf[CommentAdded](),
		specOf[CommentDeleted](),
	),

	// Favorites (favorite.go) and follows (follow.go): one stream per pair.
	aggregate(AggregateFavorite, "`<user id>_<article id>`", "one user's favorite of one article",
		specOf[FavoriteAdded](),
		specOf[FavoriteRemoved](),
	),
	aggregate(AggregateFollow, "`<follower id>_<followee id>`", "one user following another",
		specOf[FollowAdded](),
		specOf[FollowRemoved](),
	),

	// Uniqueness claims (claim.go) and the superusers (roster.go).
	aggregate(AggregateClaim, "`<kind>_<hash>`", "a unique value (username, email, slug, tag name) and who holds it",
		specOf[ClaimTaken](),
		specOf[ClaimReleased](),
	),
	aggregate(AggregateRoster, "`superusers`", "the active superusers",
		specOf[SuperuserAdded](),
		specOf[SuperuserRemoved](),
	),

	// The log's own bookkeeping: the events a read model skips
	// (projection.go) and the losses of the log an operator accepted
	// (eventlog.go).
	bookkeeping(aggregate(AggregateProjection, "read model name", "decisions about one read model: the events it skips",
		specOf[EventSkipped](),
	)),
	bookkeeping(aggregate(AggregateLog, "`losses`", "decisions about the log itself: the losses an operator accepted",
		specOf[LossAccepted](),
	)),
}

// anyAggregate lists the event types a stream of any aggregate may hold:
// a creation given up (event.go). Their names begin "aggregate.".
var anyAggregate = []EventSpec{
	specOf[CreationAbandoned](),
}

// eventSpecs indexes every event type of the catalogue by its persisted
// name. It is immutable.
var eventSpecs = catalogue(aggregates, anyAggregate)

// AggregateSpec is an aggregate type as the catalogue registers it.
type AggregateSpec struct {
	Type string // the streams' type: <aggregate> in the log's subjects, the prefix of its events' names
	ID   string // what the id of one of its streams is (for the reference of the events)
	What string // what one of its streams is about
	// Bookkeeping is set for the streams the log keeps about itself (the
	// events a read model skips, the losses accepted) rather than about
	// the blog: no user causes them, no read model of the blog reads them.
	Bookkeeping bool
	Events      []EventSpec // the event types of its streams, besides those of any aggregate
}

func aggregate(typ, id, what string, events ...EventSpec) AggregateSpec {
	return AggregateSpec{Type: typ, ID: id, What: what, Events: events}
}

func bookkeeping(a AggregateSpec) AggregateSpec {
	a.Bookkeeping = true
	return a
}

// Aggregates returns the catalogue's aggregate types, in their order, the
// log's bookkeeping included.
func Aggregates() []AggregateSpec { return slices.Clone(aggregates) }

// AggregateTypes lists the type of every aggregate of the blog (the
// catalogue's, without the log's bookkeeping).
func AggregateTypes() []string {
	var out []string
	for _, a := range aggregates {
		if !a.Bookkeeping {
			out = append(out, a.Type)
		}
	}
	return out
}

// LookupAggregate returns the catalogue's spec of an aggregate type, the
// log's bookkeeping included.
func LookupAggregate(typ string) (AggregateSpec, bool) {
	i := slices.IndexFunc(aggregates, func(a AggregateSpec) bool { return a.Type == typ })
	if i < 0 {
		return AggregateSpec{}, false
	}
	return aggregates[i], true
}

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

// catalogue indexes the specs of aggs and ofAny by name, with the fields
// each event always carries. It panics on a type registered twice, and on
// one whose name does not begin with its aggregate's type (or with
// "aggregate." for those of any aggregate), so that an event's name says
// which streams hold it.
func catalogue(aggs []AggregateSpec, ofAny []EventSpec) map[string]EventSpec {
	out := map[string]EventSpec{}
	add := func(prefix string, s EventSpec) {
		if _, dup := out[s.Type]; dup {
			panic("domain: event type registered twice: " + s.Type)
		}
		if !strings.HasPrefix(s.Type, prefix+".") {
			panic("domain: event type " + s.Type + " registered under aggregate " + prefix)
		}
		t := reflect.TypeOf(s.New()).Elem()
		s.fields = eventFields(t)
		out[s.Type] = s
	}
	types := map[string]bool{}
	for _, a := range aggs {
		if types[a.Type] || a.Type == "aggregate" {
			panic("domain: aggregate type registered twice: " + a.Type)
		}
		types[a.Type] = true
		for _, s := range a.Events {
			add(a.Type, s)
		}
	}
	for _, s := range ofAny {
		add("aggregate", s)
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
