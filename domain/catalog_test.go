package domain_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
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

// The catalogue is the one place an aggregate and its events are
// registered, and it is complete: every aggregate type the package declares
// (a constant Aggregate<Name>) is in it, every event type (a type with an
// EventType method) is in it, and each event is registered under the
// aggregate its name begins with.
func TestTheCatalogueRegistersEveryAggregateAndEvent(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]string{} // aggregate type -> its constant
	var eventTypes []string         // the names EventType methods return
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if strings.HasPrefix(name.Name, "Aggregate") && i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, _ := strconv.Unquote(lit.Value)
							declared[v] = name.Name
						}
					}
				}
			case *ast.FuncDecl:
				if n.Recv != nil && n.Name.Name == "EventType" && len(n.Body.List) == 1 {
					if ret, ok := n.Body.List[0].(*ast.ReturnStmt); ok && len(ret.Results) == 1 {
						if lit, ok := ret.Results[0].(*ast.BasicLit); ok {
							v, _ := strconv.Unquote(lit.Value)
							eventTypes = append(eventTypes, v)
						}
					}
				}
			}
			return true
		})
	}
	if len(declared) < 5 || len(eventTypes) < 20 {
		t.Fatalf("read %d aggregate constants and %d event types: the scan missed the package", len(declared), len(eventTypes))
	}
	registered := map[string]bool{}
	for _, a := range domain.Aggregates() {
		registered[a.Type] = true
		if _, ok := declared[a.Type]; !ok {
			t.Errorf("the catalogue registers aggregate %q, which no Aggregate constant declares", a.Type)
		}
		if a.ID == "" || a.What == "" || len(a.Events) == 0 {
			t.Errorf("aggregate %q is registered without its id, its description or its events", a.Type)
		}
		for _, e := range a.Events {
			if !strings.HasPrefix(e.Type, a.Type+".") {
				t.Errorf("event %s is registered under aggregate %s", e.Type, a.Type)
			}
		}
		if got, ok := domain.LookupAggregate(a.Type); !ok || got.Type != a.Type {
			t.Errorf("LookupAggregate(%q) = %v, %v", a.Type, got.Type, ok)
		}
		if slices.Contains(domain.AggregateTypes(), a.Type) == a.Bookkeeping {
			t.Errorf("AggregateTypes() and the bookkeeping mark disagree on %q", a.Type)
		}
	}
	for typ, name := range declared {
		if !registered[typ] {
			t.Errorf("%s = %q is not in the catalogue (domain/catalog.go)", name, typ)
		}
	}
	for _, e := range eventTypes {
		if _, ok := domain.LookupEventSpec(e); !ok {
			t.Errorf("event type %s is not in the catalogue (domain/catalog.go)", e)
		}
	}
	if len(domain.EventSpecs()) != len(eventTypes) {
		t.Errorf("the catalogue has %d event types, the package declares %d", len(domain.EventSpecs()), len(eventTypes))
	}
	if _, ok := domain.LookupAggregate("aggregate"); ok {
		t.Error(`"aggregate", the prefix of the events of any aggregate, is registered as an aggregate`)
	}
}
