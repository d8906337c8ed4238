// Command eventdoc writes the reference of Inkwell's events: docs/events.md
// (the subject scheme, the envelope, and every event type with its schema
// version and JSON Schema) and docs/asyncapi.json (an AsyncAPI 3 document of
// the same). Both are generated from package domain, so they cannot drift
// from the code; a test fails when the committed files are not current.
//
//	go run ./cmd/eventdoc          rewrite the files
//	go run ./cmd/eventdoc -check   fail if they are not current
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"inkwell/domain"
)

func main() {
	check := flag.Bool("check", false, "fail if the files are not current instead of writing them")
	root := flag.String("root", ".", "the module's root directory")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "eventdoc:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	files, err := Generate(filepath.Join(root, "domain"))
	if err != nil {
		return err
	}
	var stale []string
	for name, content := range files {
		path := filepath.Join(root, name)
		if check {
			old, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(old, content) {
				stale = append(stale, name)
			}
			continue
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		return fmt.Errorf("%s not current: run go run ./cmd/eventdoc", strings.Join(stale, ", "))
	}
	return nil
}

// eventInfo is what the reference says of one event type.
type eventInfo struct {
	Type      string
	Version   int
	Aggregate string
	GoName    string
	Doc       string
	Schema    map[string]any
	Sensitive []string
	Personal  []string
}

// Generate returns the reference files by their path in the module.
func Generate(domainDir string) (map[string][]byte, error) {
	docs, err := typeDocs(domainDir)
	if err != nil {
		return nil, err
	}
	var events []eventInfo
	for _, spec := range domain.EventSpecs() {
		t := reflect.TypeOf(spec.New()).Elem()
		events = append(events, eventInfo{
			Type: spec.Type, Version: spec.Version, Aggregate: aggregateOf(spec.Type), GoName: t.Name(),
			Doc: docs[t.Name()], Schema: schemaOf(t, spec.Sensitive, spec.Personal), Sensitive: spec.Sensitive, Personal: spec.Personal,
		})
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Type < events[j].Type })
	md := markdown(events)
	async, err := asyncAPI(events)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"docs/events.md": md, "docs/asyncapi.json": async}, nil
}

// typeDocs returns the doc comment of every type in package domain.
func typeDocs(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, errors.New("no Go files in " + dir)
	}
	p, err := doc.NewFromFiles(fset, files, "inkwell/domain")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range p.Types {
		out[t.Name] = strings.Join(strings.Fields(t.Doc), " ")
	}
	return out, nil
}

// aggregateOf is the aggregate type whose streams hold events of eventType,
// as the catalogue registers it, or "any".
func aggregateOf(eventType string) string {
	for _, a := range domain.Aggregates() {
		if slices.ContainsFunc(a.Events, func(s domain.EventSpec) bool { return s.Type == eventType }) {
			return a.Type
		}
	}
	return "any"
}

var timeType = reflect.TypeOf(time.Time{})

// schemaOf returns the JSON Schema (2020-12) of an event's JSON.
func schemaOf(t reflect.Type, sensitive, personal []string) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		return schemaOf(t.Elem(), nil, nil)
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), nil, nil)}
	case t.Kind() == reflect.Struct:
		props := map[string]any{}
		required := []string{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			s := schemaOf(f.Type, nil, nil)
			if slices.Contains(personal, name) {
				s["x-personal"] = true
				s["description"] = "Personal data: about a person; sealed in the log, and \"" + domain.Erased + "\" once the person is erased."
			}
			if slices.Contains(sensitive, name) {
				desc, _ := s["description"].(string)
				s["description"] = strings.TrimSpace(desc + " Sensitive: kept in the log, removed from the event stream and from inkwell events tail.")
			}
			props[name] = s
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
	}
	return map[string]any{}
}

func markdown(events []eventInfo) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("| aggregate | id | what |\n| --- | --- | --- |\n")
	for _, a := range domain.Aggregates() {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", a.Type, a.ID, a.What)
	}
	b.WriteString(headerRest)
	b.WriteString("\n## Event types\n\n| type | schema version | aggregate | Go type |\n| --- | --- | --- | --- |\n")
	for _, e := range events {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %d | %s | `domain.%s` |\n", e.Type, anchor(e.Type), e.Version, e.Aggregate, e.GoName)
	}
	for _, e := range events {
		fmt.Fprintf(&b, "\n### %s\n\nSchema version %d; aggregate `%s`; subject `inkwell.events.%s.<id>`.\n\n", e.Type, e.Version, e.Aggregate, subjectType(e.Aggregate))
		if e.Doc != "" {
			b.WriteString(e.Doc + "\n\n")
		}
		if len(e.Personal) > 0 {
			fmt.Fprintf(&b, "Personal fields (data about a person; `x-personal` in the schema): `%s`. "+
				"In the log they are sealed with the data key of the user the event is about (schema version 2; version 1 held them in clear text): "+
				"each is a string, base64 of a nonce and the AES-256-GCM ciphertext of the field's JSON. "+
				"Readers of the event stream see them opened, or `%q` once the user is erased.\n\n",
				strings.Join(e.Personal, "`, `"), domain.Erased)
		}
		if len(e.Sensitive) > 0 {
			fmt.Fprintf(&b, "Sensitive fields, removed from the event stream and from `inkwell events tail`: `%s`.\n\n", strings.Join(e.Sensitive, "`, `"))
		}
		js, _ := json.MarshalIndent(e.Schema, "", "  ")
		b.WriteString("```json\n" + string(js) + "\n```\n")
	}
	return b.Bytes()
}

func subjectType(aggregate string) string {
	if aggregate == "any" {
		return "<aggregate>"
	}
	return aggregate
}

func anchor(eventType string) string { return strings.ReplaceAll(eventType, ".", "") }

func asyncAPI(events []eventInfo) ([]byte, error) {
	channels := map[string]any{}
	operations := map[string]any{}
	messages := map[string]any{}
	byAggregate := map[string][]string{}
	for _, e := range events {
		name := strings.ReplaceAll(e.Type, ".", "_")
		messages[name] = map[string]any{
			"name":        e.Type,
			"title":       e.Type + " (schema version " + fmt.Sprint(e.Version) + ")",
			"summary":     e.Doc,
			"contentType": "application/json",
			"headers":     map[string]any{"$ref": "#/components/schemas/envelope"},
			"payload":     e.Schema,
		}
		byAggregate[e.Aggregate] = append(byAggregate[e.Aggregate], name)
	}
	aggs := make([]string, 0, len(byAggregate))
	for a := range byAggregate {
		aggs = append(aggs, a)
	}
	sort.Strings(aggs)
	for _, a := range aggs {
		if a == "any" {
			continue
		}
		msgs := map[string]any{}
		for _, m := range append(byAggregate[a], byAggregate["any"]...) {
			msgs[m] = map[string]any{"$ref": "#/components/messages/" + m}
		}
		channels[a] = map[string]any{
			"address":     "inkwell.events." + a + ".{id}",
			"description": "Every event of one " + a + ", in order.",
			"parameters":  map[string]any{"id": map[string]any{"description": "The " + a + "'s id."}},
			"messages":    msgs,
			"servers":     []any{map[string]any{"$ref": "#/servers/nats"}},
		}
		refs := []any{}
		for _, m := range append(byAggregate[a], byAggregate["any"]...) {
			refs = append(refs, map[string]any{"$ref": "#/channels/" + a + "/messages/" + m})
		}
		operations["follow_"+a] = map[string]any{
			"action": "receive", "channel": map[string]any{"$ref": "#/channels/" + a}, "messages": refs,
			"summary":  "Follow the " + a + " events (a JetStream consumer on the INKWELL stream).",
			"bindings": map[string]any{"nats": map[string]any{"bindingVersion": "0.1.0"}},
		}
	}
	doc := map[string]any{
		"asyncapi": "3.1.0",
		"servers": map[string]any{
			"nats": map[string]any{
				"host":     "{host}",
				"protocol": "nats",
				"description": "The NATS server (or cluster) holding the log: INKWELL_NATS_URL of the Inkwell instances. " +
					"An embedded log's address and credentials are in <data directory>/nats.json.",
				"variables": map[string]any{"host": map[string]any{"default": "localhost:4222", "description": "host:port of a NATS server"}},
			},
		},
		"info": map[string]any{
			"title":       "Inkwell events",
			"version":     "1.0.0",
			"description": "The event log of Inkwell: one NATS JetStream stream (INKWELL), one subject per aggregate instance. Generated by go run ./cmd/eventdoc; see docs/events.md.",
		},
		"defaultContentType": "application/json",
		"channels":           channels,
		"operations":         operations,
		"components": map[string]any{
			"messages": messages,
			"schemas": map[string]any{"envelope": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"Nats-Msg-Id":               map[string]any{"type": "string", "description": "The event id (UUID v7)."},
					"Inkwell-Event-Type":        map[string]any{"type": "string"},
					"Inkwell-Schema-Version":    map[string]any{"type": "string", "description": "An integer."},
					"Inkwell-Aggregate-Type":    map[string]any{"type": "string"},
					"Inkwell-Aggregate-Id":      map[string]any{"type": "string"},
					"Inkwell-Aggregate-Version": map[string]any{"type": "string", "description": "The event's position in its aggregate's stream, from 1, gapless."},
					"Inkwell-Occurred-At":       map[string]any{"type": "string", "format": "date-time"},
					"Inkwell-Actor":             map[string]any{"type": "string", "description": "The user id of whoever caused the event, or \"system\"."},
					"Inkwell-Correlation-Id":    map[string]any{"type": "string", "description": "The request id of the command that caused the event."},
				},
				"required": []string{"Nats-Msg-Id", "Inkwell-Event-Type", "Inkwell-Schema-Version", "Inkwell-Aggregate-Type", "Inkwell-Aggregate-Id", "Inkwell-Aggregate-Version", "Inkwell-Occurred-At", "Inkwell-Actor"},
			}},
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

const header = `# Inkwell events

This file is generated by ` + "`go run ./cmd/eventdoc`" + ` from package ` + "`domain`" + `; do not edit it by hand.
[asyncapi.json](asyncapi.json) describes the same events as an AsyncAPI 3 document.

Every change in Inkwell is an event in one NATS JetStream stream, ` + "`INKWELL`" + `
(file storage; deleting or purging messages is denied: the log is immutable).

## Subjects

Each aggregate instance has a subject of its own:

    inkwell.events.<aggregate>.<id>

`

// headerRest follows the table of aggregates.
const headerRest = `
So ` + "`inkwell.events.article.*`" + ` are all article events and ` + "`inkwell.events.>`" + ` is everything.
The stream name and the prefix ` + "`inkwell.events`" + ` can be changed (` + "`INKWELL_NATS_STREAM`" + `,
` + "`INKWELL_NATS_SUBJECT_PREFIX`" + `).

## Envelope

The body of each message is the event's JSON (schemas below). Headers carry the envelope:

| header | meaning |
| --- | --- |
| ` + "`Nats-Msg-Id`" + ` | the event id (UUID v7); JetStream's dedupe id |
| ` + "`Inkwell-Event-Type`" + ` | the event type, e.g. ` + "`article.created`" + ` |
| ` + "`Inkwell-Schema-Version`" + ` | the version of the event type's schema the body follows |
| ` + "`Inkwell-Aggregate-Type`" + `, ` + "`Inkwell-Aggregate-Id`" + ` | the aggregate (as in the subject) |
| ` + "`Inkwell-Aggregate-Version`" + ` | the event's position in its aggregate's stream: 1, 2, 3, ... without gaps |
| ` + "`Inkwell-Occurred-At`" + ` | when the command was decided (RFC 3339) |
| ` + "`Inkwell-Actor`" + ` | the user id of whoever caused it, or ` + "`system`" + ` |
| ` + "`Inkwell-Correlation-Id`" + ` | the request id (` + "`X-Request-Id`" + `) of the command that caused it |

The stream sequence is the event's position in the whole log; it orders all events.

## Versions

An event type is never changed in place. A new shape is a new schema version of
the same type, and Inkwell keeps an upcaster from the old version to the new one,
so the oldest event in the log still replays. A follower should read
` + "`Inkwell-Schema-Version`" + ` and handle the versions it knows; an event type it does
not know it should skip.

## Following the log

- From the command line: ` + "`inkwell events tail [--from SEQ] [--type TYPE,...] [--no-follow]`" + `
  prints events as JSON lines and follows new ones.
- Over HTTP (staff only): ` + "`GET /api/events/stream/`" + ` is a Server-Sent Events stream; each
  event's ` + "`id`" + ` is its stream sequence, so a client that reconnects with
  ` + "`Last-Event-ID`" + ` resumes after the last event it saw. ` + "`?from=SEQ`" + `, ` + "`?type=`" + ` and
  ` + "`?aggregate=`" + ` select (types comma-separated; a type the catalogue below does not
  know is a 422 naming the parameter and listing the types it knows).
  Each event is sent named after its type (` + "`event: article.created`" + `), its JSON (the
  envelope and the event) in ` + "`data`" + `. A browser ` + "`EventSource`" + ` hands a named event only
  to a listener of that name (` + "`addEventListener(\"article.created\", ...)`" + `), never to
  ` + "`onmessage`" + `: register each type you follow; a type Inkwell adds later reaches no
  listener until you add one (a client reading the stream itself finds the type in ` + "`data`" + ` too).
- With NATS: create a durable consumer on the stream (explicit acks, a filter such as
  ` + "`inkwell.events.article.*`" + `) and bind to it. Delivery is at least once: make handlers
  idempotent (the event id tells a redelivery).

Both Inkwell outlets show the events without their sensitive fields (password
hashes), with personal fields opened. A follower of the raw NATS stream must
know more:

- **Personal fields are sealed.** Each field marked personal below (` + "`x-personal`" + ` in
  the AsyncAPI document) holds, in the raw stream, a JSON string: the field sealed with
  the data key of the user it is about (AES-256-GCM), in standard base64 without padding.
  A follower cannot read it; follow Inkwell's outlets to read personal data.
- **Forget on erasure and deletion.** After ` + "`user.erased`" + ` or ` + "`user.deleted`" + `, forget what
  you derived from that user's events (names, emails, texts, copies of articles): the log
  stops answering for them, and so must you. An erasure records ` + "`user.erased`" + ` and no
  ` + "`user.deleted`" + `: handle both.
- **A cascade is an event of its own.** When an account is deleted or erased, its articles
  are deleted by Inkwell's cascade: each appears as ` + "`article.deleted`" + ` with
  ` + "`\"reason\": \"author deleted\"`" + `, after the ` + "`user.deleted`" + ` or ` + "`user.erased`" + `.
- **Order and idempotency.** Events of one aggregate carry gapless versions
  (` + "`Inkwell-Aggregate-Version`" + `), and the stream sequence orders all events. Skipping an
  event whose version you have already applied is safe only with one message in flight
  (a consumer with ` + "`MaxAckPending`" + ` 1): with more, JetStream redelivers an unacknowledged
  event behind later ones of the same aggregate, and a check by version would drop it.
  Inkwell's own reactors run with one in flight.
- **Permissions.** A NATS consumer sees every event whole (sealed fields, password hashes
  sealed too): give followers NATS permissions to match (read-only, on the subjects they need).
`
