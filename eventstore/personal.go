package eventstore

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"inkwell/domain"
)

// Personal data in the log. Each personal field of an event (see
// domain.EventSpec.Personal) is sealed on its own with the data key of the
// user the event is about: AES-256-GCM, a fresh nonce per field, the event's
// id and the field's name as associated data, so that a ciphertext moved to
// another event or field does not open. The field's JSON value is replaced
// by a JSON string: base64 of the nonce followed by the ciphertext of the
// value's JSON. Events of schema versions before the spec's SealedFrom hold
// their personal fields in clear text (a log written before Inkwell sealed
// them, until `inkwell events encrypt` rewrites it). Personal fields are
// strings (or pointers to strings: domain's tests hold them to it), so a
// sealed event decodes into its own struct, and is opened there.

// DataKeys gives the AEAD of each user's data key (see Keyring).
type DataKeys interface {
	// Sealer returns the AEAD of subject's data key, creating the key if
	// subject has none; ErrErased if it was destroyed.
	Sealer(ctx context.Context, subject string) (cipher.AEAD, error)
	// Opener returns the AEAD of subject's data key: ErrErased if it was
	// destroyed, ErrNoDataKey if subject never had one.
	Opener(ctx context.Context, subject string) (cipher.AEAD, error)
	// Erased reports whether subject's data key was destroyed (for events
	// written in clear text, which need no key but must not show an erased
	// user's data).
	Erased(ctx context.Context, subject string) (bool, error)
}

var (
	// ErrErased is returned for the data key of an erased user.
	ErrErased = errors.New("eventstore: the data key was destroyed (the user is erased)")
	// ErrNoDataKey is returned for the data key of a user who has none.
	ErrNoDataKey = errors.New("eventstore: no data key")
	// ErrNoDataKeys is returned for an event with personal fields on a
	// store that has no data keys to seal or open them with.
	ErrNoDataKeys = errors.New("eventstore: the event has personal fields, and the store has no data keys (UsePersonalData)")
)

// nonceSize is AES-GCM's standard nonce size.
const nonceSize = 12

// personalLayout is where an event type's personal fields and data subject
// are in its struct.
type personalLayout struct {
	spec    domain.EventSpec
	fields  []personalField
	subject []int // index of the subject field; nil: the user's own stream
}

type personalField struct {
	name  string // JSON name, in the associated data
	index []int
	ptr   bool // *string rather than string
}

// layouts holds the layout of every event type with personal fields,
// from the immutable catalogue.
var layouts = func() map[string]*personalLayout {
	out := map[string]*personalLayout{}
	for _, spec := range domain.EventSpecs() {
		if len(spec.Personal) == 0 {
			continue
		}
		l := &personalLayout{spec: spec}
		t := reflect.TypeOf(spec.New()).Elem()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == spec.Subject && name != "":
				l.subject = f.Index
			case f.Tag.Get("personal") == "true":
				l.fields = append(l.fields, personalField{name: name, index: f.Index, ptr: f.Type.Kind() == reflect.Pointer})
			}
		}
		out[spec.Type] = l
	}
	return out
}()

// subjectOf is the id of the user ev (of rec) is about: the user's own id
// for a user's event, else its subject field.
func (l *personalLayout) subjectOf(rec domain.Record, ev reflect.Value) string {
	if l.subject == nil {
		if rec.Stream.Type != domain.AggregateUser {
			return ""
		}
		return rec.Stream.ID
	}
	return ev.FieldByIndex(l.subject).String()
}

// each calls fn with each personal field of ev that holds a value (a nil
// pointer holds none), as a settable string.
func (l *personalLayout) each(ev reflect.Value, fn func(f personalField, v reflect.Value) error) error {
	for _, f := range l.fields {
		v := ev.FieldByIndex(f.index)
		if f.ptr {
			if v.IsNil() {
				continue
			}
			v = v.Elem()
		}
		if err := fn(f, v); err != nil {
			return err
		}
	}
	return nil
}

// sealEvent returns the JSON of rec's event, its personal fields sealed when
// its schema version says so.
func sealEvent(ctx context.Context, keys DataKeys, rec domain.Record) ([]byte, error) {
	l := layouts[rec.Type]
	if l == nil || rec.SchemaVersion < l.spec.SealedFrom {
		return json.Marshal(rec.Event)
	}
	if keys == nil {
		return nil, ErrNoDataKeys
	}
	// A copy, so that the caller's event keeps its clear values; its
	// pointers to personal strings are replaced, not written through.
	orig := reflect.ValueOf(rec.Event).Elem()
	cp := reflect.New(orig.Type())
	cp.Elem().Set(orig)
	ev := cp.Elem()
	for _, f := range l.fields {
		if v := ev.FieldByIndex(f.index); f.ptr && !v.IsNil() {
			s := v.Elem().String()
			v.Set(reflect.ValueOf(&s))
		}
	}
	subject := l.subjectOf(rec, ev)
	if subject == "" {
		return nil, fmt.Errorf("seal %s: the event names no user whose data it is", rec.Type)
	}
	var aead cipher.AEAD
	err := l.each(ev, func(f personalField, v reflect.Value) error {
		if aead == nil {
			var err error
			if aead, err = keys.Sealer(ctx, subject); err != nil {
				return fmt.Errorf("seal %s for user %s: %w", rec.Type, subject, err)
			}
		}
		clear, _ := json.Marshal(v.String())
		nonce := make([]byte, nonceSize, nonceSize+len(clear)+aead.Overhead())
		rand.Read(nonce)
		v.SetString(base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, clear, fieldAD(rec.ID, f.name))))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(cp.Interface())
}

// fieldAD is the associated data of a sealed field: the event id and the
// field name, so that the ciphertext opens there and nowhere else.
func fieldAD(eventID, field string) []byte { return []byte(eventID + "\x00" + field) }

// openEvent opens the personal fields of rec.Event (decoded from the log,
// sealed as its schema version says) in place. Once the user it is about is
// erased, they read domain.Erased, and rec.Erased is set; so do fields
// written in clear text (an older schema version).
func openEvent(ctx context.Context, keys DataKeys, rec *domain.Record) error {
	l := layouts[rec.Type]
	if l == nil || rec.Event == nil {
		return nil
	}
	sealed := rec.SchemaVersion >= l.spec.SealedFrom
	if keys == nil {
		if sealed {
			return ErrNoDataKeys
		}
		return nil
	}
	ev := reflect.ValueOf(rec.Event).Elem()
	subject := l.subjectOf(*rec, ev)
	if subject == "" {
		if sealed {
			return fmt.Errorf("open %s: the event names no user whose data it is", rec.Type)
		}
		return nil
	}
	erase := func() error {
		rec.Erased = true
		return l.each(ev, func(_ personalField, v reflect.Value) error { v.SetString(domain.Erased); return nil })
	}
	if !sealed {
		erased, err := keys.Erased(ctx, subject)
		if err != nil {
			return fmt.Errorf("open %s for user %s: %w", rec.Type, subject, err)
		} else if erased {
			return erase()
		}
		return nil
	}
	aead, err := keys.Opener(ctx, subject)
	switch {
	case errors.Is(err, ErrErased):
		return erase()
	case err != nil:
		return fmt.Errorf("open %s for user %s: %w", rec.Type, subject, err)
	}
	return l.each(ev, func(f personalField, v reflect.Value) error {
		ct, err := base64.RawStdEncoding.DecodeString(v.String())
		if err != nil || len(ct) < nonceSize+aead.Overhead() {
			return fmt.Errorf("open %s: field %s is not sealed", rec.Type, f.name)
		}
		clear, err := aead.Open(ct[nonceSize:nonceSize], ct[:nonceSize], ct[nonceSize:], fieldAD(rec.ID, f.name))
		if err != nil {
			return fmt.Errorf("open %s: field %s does not open with the data key of user %s (moved from another event or field, or altered)", rec.Type, f.name, subject)
		}
		s, ok := jsonString(clear)
		if !ok {
			return fmt.Errorf("open %s: field %s holds no string", rec.Type, f.name)
		}
		v.SetString(s)
		return nil
	})
}

// OpenPersonalData opens rec's personal fields as a read of the log does
// (openEvent), for a record whose event a caller changed after reading it:
// one written in clear text before it named its subject (an article.updated
// of schema version 1), whose subject the caller filled in, reads Erased
// once that subject is erased.
func (s *Store) OpenPersonalData(ctx context.Context, rec *domain.Record) error {
	return openEvent(ctx, s.keys, rec)
}

// jsonString decodes a JSON string; one without escapes, as most are,
// without the JSON decoder.
func jsonString(b []byte) (string, bool) {
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && !bytes.ContainsAny(b[1:n-1], "\\\"") {
		return string(b[1 : n-1]), utf8.Valid(b[1 : n-1])
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err == nil
}
