package eventstore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/testkit"
)

// personalEvent returns an event of spec's type with every personal field
// set to a value naming it, and its subject field (if any) to subject.
func personalEvent(t *testing.T, spec domain.EventSpec, subject string) domain.Event {
	t.Helper()
	ev := spec.New()
	v := reflect.ValueOf(ev).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Tag.Get("subject") == "true":
			v.Field(i).SetString(subject)
		case f.Tag.Get("personal") != "true":
		case f.Type.Kind() == reflect.String:
			v.Field(i).SetString("secret " + name + " of " + subject)
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.String:
			s := "secret " + name + " of " + subject
			v.Field(i).Set(reflect.ValueOf(&s))
		default:
			t.Fatalf("%s: personal field %s is a %s, not a string", spec.Type, name, f.Type)
		}
	}
	return ev
}

// streamOf is where an event about subject is appended.
func streamOf(spec domain.EventSpec, subject string) domain.StreamID {
	if spec.Subject == "" {
		return domain.UserStream(subject)
	}
	return domain.StreamID{Type: strings.Split(spec.Type, ".")[0], ID: "0190d7a6-0000-7000-8000-" + subject[len(subject)-12:]}
}

func personalSpecs() []domain.EventSpec {
	var out []domain.EventSpec
	for _, spec := range domain.EventSpecs() {
		if len(spec.Personal) > 0 {
			out = append(out, spec)
		}
	}
	return out
}

// Every event type with personal fields goes into the log sealed (no clear
// value in the message) and comes out as it went in; once the user's data
// key is destroyed, it comes out with every personal field Erased, from a
// load, a read of the log and a fresh store alike.
func TestPersonalFieldsRoundTripSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := eventstoretest.MustStartEmbedded(t, "")
	nc := e.Connect(t)
	master := eventstoretest.NewMasterKey(t)
	s := eventstoretest.MustOpenOn(t, nc, eventstore.Config{})
	keys := eventstoretest.MustOpenDataKeys(t, s, master)
	s.UsePersonalData(keys, master.Derive("claims"))
	subject := "0190d7a6-1111-7000-8000-000000000001"
	var appended []domain.Record
	for _, spec := range personalSpecs() {
		ev := personalEvent(t, spec, subject)
		_, pos, err := s.Load(ctx, streamOf(spec, subject))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.Append(ctx, streamOf(spec, subject), pos, domain.Meta{}, ev)
		if err != nil {
			t.Fatalf("append %s: %v", spec.Type, err)
		}
		appended = append(appended, recs[0])
		raw, err := s.JetStream().Stream(ctx, s.StreamName())
		if err != nil {
			t.Fatal(err)
		}
		m, err := raw.GetMsg(ctx, recs[0].Seq)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(m.Data, []byte("secret")) {
			t.Fatalf("%s is stored with a personal field in clear text: %s", spec.Type, m.Data)
		}
		if m.Header.Get(eventstore.HeaderSchemaVersion) != "2" {
			t.Fatalf("%s stored with schema version %q, want 2", spec.Type, m.Header.Get(eventstore.HeaderSchemaVersion))
		}
	}
	// A store of its own (nothing cached) reads every event back as it was.
	fresh := eventstoretest.MustOpenOn(t, nc, eventstore.Config{})
	fresh.UsePersonalData(eventstoretest.MustOpenDataKeys(t, fresh, master), master.Derive("claims"))
	for _, want := range appended {
		got, err := fresh.Get(ctx, want.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Event, want.Event) || got.Erased {
			t.Fatalf("%s read back as %+v, want %+v", want.Type, got.Event, want.Event)
		}
	}

	if err := keys.Destroy(ctx, subject); err != nil {
		t.Fatal(err)
	}
	// Destroying twice is fine (a retry).
	if err := keys.Destroy(ctx, subject); err != nil {
		t.Fatal(err)
	}
	waitErased := func(s *eventstore.Store) {
		for _, want := range appended {
			var got domain.Record
			testkit.WaitFor(t, 30*time.Second, want.Type+" read erased", func() bool {
				var err error
				if got, err = s.Get(ctx, want.Seq); err != nil {
					t.Fatal(err)
				}
				return got.Erased
			})
			body, _ := json.Marshal(got.Event)
			if bytes.Contains(body, []byte("secret")) {
				t.Fatalf("%s after erasure: erased %t, %s", want.Type, got.Erased, body)
			}
			var obj map[string]any
			_ = json.Unmarshal(body, &obj)
			spec, _ := domain.LookupEventSpec(want.Type)
			for _, f := range spec.Personal {
				if obj[f] != domain.Erased {
					t.Fatalf("%s after erasure: field %s reads %v, want %q", want.Type, f, obj[f], domain.Erased)
				}
			}
		}
	}
	waitErased(s)
	waitErased(fresh) // the other store learns it from the bucket
	// Loading the user's stream after the erasure works (replays from the
	// first event with no error).
	if recs, _, err := s.Load(ctx, domain.UserStream(subject)); err != nil || len(recs) == 0 || !recs[0].Erased {
		t.Fatalf("load of the erased user: %d events, %v", len(recs), err)
	}
	// A key cannot be made again for an erased user.
	if _, err := keys.Sealer(ctx, subject); !errors.Is(err, eventstore.ErrErased) {
		t.Fatalf("sealer of an erased user: %v", err)
	}
}

// staticKeys answers one AEAD for every user, or err.
type staticKeys struct {
	aead cipher.AEAD
	err  error
}

func (k staticKeys) Sealer(context.Context, string) (cipher.AEAD, error) { return k.aead, k.err }
func (k staticKeys) Opener(context.Context, string) (cipher.AEAD, error) { return k.aead, k.err }
func (k staticKeys) Erased(context.Context, string) (bool, error) {
	return errors.Is(k.err, eventstore.ErrErased), nil
}

// erasedKeys answers that every user is erased.
var erasedKeys = staticKeys{err: eventstore.ErrErased}

func newStaticKeys(t *testing.T) staticKeys {
	block, err := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return staticKeys{aead: aead}
}

// registration returns a user.registered of subject with every personal
// field set, its spec, and keys to seal it with.
func registration(t *testing.T, subject string) (context.Context, staticKeys, domain.EventSpec, domain.Event) {
	spec, _ := domain.LookupEventSpec("user.registered")
	return context.Background(), newStaticKeys(t), spec, personalEvent(t, spec, subject)
}

// A sealed field opens only in the event and field it was sealed for: moved
// to another event, or to another field of the same event, it does not
// decrypt, and the event does not decode.
func TestSealedFieldDoesNotOpenElsewhere(t *testing.T) {
	t.Parallel()
	ctx, keys, spec, ev := registration(t, "0190d7a6-1111-7000-8000-000000000002")
	rec := func(id string) domain.Record {
		return domain.Record{ID: id, Type: spec.Type, SchemaVersion: spec.Version, Stream: domain.UserStream("0190d7a6-1111-7000-8000-000000000002"), Event: ev}
	}
	a, err := eventstore.SealEvent(ctx, keys, rec("event-a"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(a, []byte("secret")) {
		t.Fatalf("sealed, a personal field is in clear: %s", a)
	}
	if strings.Contains(ev.(*domain.UserRegistered).Email, "=") || !strings.HasPrefix(ev.(*domain.UserRegistered).Email, "secret") {
		t.Fatal("sealing changed the caller's event")
	}
	b, err := eventstore.SealEvent(ctx, keys, rec("event-b"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := eventstore.OpenBody(ctx, keys, rec("event-a"), a); err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("a sealed body does not open where it belongs: %v", err)
	}
	var objA, objB map[string]json.RawMessage
	_ = json.Unmarshal(a, &objA)
	_ = json.Unmarshal(b, &objB)
	// The email of event b in event a.
	objA["email"] = objB["email"]
	moved, _ := json.Marshal(objA)
	if _, _, err := eventstore.OpenBody(ctx, keys, rec("event-a"), moved); err == nil || !strings.Contains(err.Error(), "email") {
		t.Fatalf("an email moved from another event opened: %v", err)
	}
	// Event a's email in its own first_name.
	_ = json.Unmarshal(a, &objA)
	objA["first_name"] = objA["email"]
	swapped, _ := json.Marshal(objA)
	if _, _, err := eventstore.OpenBody(ctx, keys, rec("event-a"), swapped); err == nil || !strings.Contains(err.Error(), "first_name") {
		t.Fatalf("an email moved to another field opened: %v", err)
	}
	// A clear value where a sealed one belongs is refused too.
	_ = json.Unmarshal(a, &objA)
	objA["bio"] = json.RawMessage(`"plain"`)
	plain, _ := json.Marshal(objA)
	if _, _, err := eventstore.OpenBody(ctx, keys, rec("event-a"), plain); err == nil {
		t.Fatal("a clear value in a sealed event opened")
	}
}

// An event written before personal data was sealed (schema version 1, clear
// text) still decodes, beside sealed ones, and reads Erased once its user
// is erased.
func TestClearTextEventsOfAnOlderLogDecode(t *testing.T) {
	t.Parallel()
	ctx, keys, spec, ev := registration(t, "0190d7a6-1111-7000-8000-000000000003")
	body, _ := json.Marshal(ev)
	old := domain.Record{ID: "old", Type: spec.Type, SchemaVersion: 1, Stream: domain.UserStream("0190d7a6-1111-7000-8000-000000000003")}
	out, erased, err := eventstore.OpenBody(ctx, keys, old, body)
	if err != nil || erased || !reflect.DeepEqual(out, ev) {
		t.Fatalf("a clear-text event: %+v, %t, %v", out, erased, err)
	}
	if _, _, err := eventstore.OpenBody(ctx, nil, old, body); err != nil {
		t.Fatalf("a clear-text event without data keys: %v", err)
	}
	sealed := old
	sealed.SchemaVersion = 2
	if _, _, err := eventstore.OpenBody(ctx, nil, sealed, body); !errors.Is(err, eventstore.ErrNoDataKeys) {
		t.Fatalf("a sealed event without data keys: %v", err)
	}
	out, erased, err = eventstore.OpenBody(ctx, erasedKeys, old, body)
	if shown, _ := json.Marshal(out); err != nil || !erased || bytes.Contains(shown, []byte("secret")) {
		t.Fatalf("a clear-text event of an erased user: %s, %t, %v", shown, erased, err)
	}
}

// Destroying a data key leaves no copy of it in the store's files: the
// bucket's earlier value is overwritten (JetStream's secure delete), not
// only forgotten.
func TestDestroyedKeyLeavesNoBytesInTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := eventstoretest.MustStartEmbedded(t, "")
	nc := e.Connect(t)
	s := eventstoretest.MustOpenOn(t, nc, eventstore.Config{})
	keys := eventstoretest.MustOpenDataKeys(t, s, eventstoretest.NewMasterKey(t))
	subject := "0190d7a6-1111-7000-8000-000000000004"
	if _, err := keys.Sealer(ctx, subject); err != nil {
		t.Fatal(err)
	}
	kv, err := s.JetStream().KeyValue(ctx, s.StreamName()+"_DATAKEYS")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := entry.Value()
	if !storeHolds(t, e.Dir, wrapped) {
		t.Fatal("the wrapped key is not in the store files: the check below could not fail")
	}
	if err := keys.Destroy(ctx, subject); err != nil {
		t.Fatal(err)
	}
	if storeHolds(t, e.Dir, wrapped) {
		t.Fatal("the destroyed key's bytes are still in the store files")
	}
	if e, err := kv.Get(ctx, subject); err != nil || string(e.Value()) != "destroyed" {
		t.Fatalf("the bucket holds %v (%v), want the destroyed marker", e, err)
	}
	_ = jetstream.KeyValuePut
}

// storeHolds reports whether any file under dir contains b.
func storeHolds(t *testing.T, dir string, b []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = found || bytes.Contains(data, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// BenchmarkDecodeRegistration decodes one user.registered message: as
// written before personal data was sealed (clear, schema version 1), and
// sealed, its data key in the keyring's memory.
func BenchmarkDecodeRegistration(b *testing.B) {
	ctx := context.Background()
	s := eventstoretest.MustOpen(b)
	subject := "0190d7a6-1111-7000-8000-000000000005"
	ev := &domain.UserRegistered{UserID: subject, Username: "someone", Email: "someone@example.com", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
		FirstName: "Some", LastName: "One", Bio: "A few words about someone.", IsActive: true, DateJoined: time.Unix(1700000000, 0).UTC()}
	recs, err := s.Append(ctx, domain.UserStream(subject), domain.Position{}, domain.Meta{}, ev)
	if err != nil {
		b.Fatal(err)
	}
	st, _ := s.JetStream().Stream(ctx, s.StreamName())
	m, err := st.GetMsg(ctx, recs[0].Seq)
	if err != nil {
		b.Fatal(err)
	}
	sealed := eventstore.RawEvent{Subject: m.Subject, Seq: m.Sequence, Header: m.Header, Data: m.Data, Keys: s.DataKeys()}
	clearHeader := nats.Header{}
	for k, v := range m.Header {
		clearHeader[k] = v
	}
	clearHeader.Set(eventstore.HeaderSchemaVersion, "1")
	body, _ := json.Marshal(ev)
	clear := eventstore.RawEvent{Subject: m.Subject, Seq: m.Sequence, Header: clearHeader, Data: body}
	for _, c := range []struct {
		name string
		raw  eventstore.RawEvent
	}{{"clear", clear}, {"sealed", sealed}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if rec, err := c.raw.Decode(); err != nil || rec.Event.(*domain.UserRegistered).Email != ev.Email {
					b.Fatal(err)
				}
			}
		})
	}
}
