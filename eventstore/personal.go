package eventstore

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

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
// them, until `inkwell log encrypt` rewrites it).

// DataKeys gives the AEAD of each user's data key (see Keyring).
type DataKeys interface {
	// Sealer returns the AEAD of subject's data key, creating the key if
	// subject has none; ErrErased if it was destroyed.
	Sealer(ctx context.Context, subject string) (cipher.AEAD, error)
	// Opener returns the AEAD of subject's data key: ErrErased if it was
	// destroyed, ErrNoDataKey if subject never had one.
	Opener(ctx context.Context, subject string) (cipher.AEAD, error)
}

var (
	// ErrErased is returned for the data key of an erased user.
	ErrErased = errors.New("eventstore: the data key was destroyed (the user is erased)")
	// ErrNoDataKey is returned for the data key of a user who has none.
	ErrNoDataKey = errors.New("eventstore: no data key")
	// ErrNoDataKeys is returned for an event with personal fields on a
	// store that has no data keys to seal or open them with.
	ErrNoDataKeys = errors.New("eventstore: the event has personal fields, and the store has no data keys (UseDataKeys)")
)

// nonceSize is AES-GCM's standard nonce size.
const nonceSize = 12

// sealBody returns body (the JSON of an event of schema version
// rec.SchemaVersion) with its personal fields sealed.
func sealBody(ctx context.Context, keys DataKeys, rec domain.Record, body []byte) ([]byte, error) {
	spec, ok := domain.LookupEventSpec(rec.Type)
	if !ok || len(spec.Personal) == 0 || rec.SchemaVersion < spec.SealedFrom {
		return body, nil
	}
	if keys == nil {
		return nil, ErrNoDataKeys
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("seal %s: %w", rec.Type, err)
	}
	subject := spec.SubjectOf(rec.Stream, obj)
	if subject == "" {
		return nil, fmt.Errorf("seal %s: the event names no user whose data it is", rec.Type)
	}
	var aead cipher.AEAD
	for _, f := range spec.Personal {
		v, ok := obj[f]
		if !ok {
			continue
		}
		if aead == nil {
			var err error
			if aead, err = keys.Sealer(ctx, subject); err != nil {
				return nil, fmt.Errorf("seal %s for user %s: %w", rec.Type, subject, err)
			}
		}
		nonce := make([]byte, nonceSize, nonceSize+len(v)+aead.Overhead())
		rand.Read(nonce)
		sealed := aead.Seal(nonce, nonce, v, fieldAD(rec.ID, f))
		obj[f], _ = json.Marshal(base64.RawStdEncoding.EncodeToString(sealed))
	}
	return json.Marshal(obj)
}

// fieldAD is the associated data of a sealed field: the event id and the
// field name, so that the ciphertext opens there and nowhere else.
func fieldAD(eventID, field string) []byte { return []byte(eventID + "\x00" + field) }

// erasedJSON is the JSON of domain.Erased, what an erased field reads.
var erasedJSON, _ = json.Marshal(domain.Erased)

// openBody returns data (the body of rec, whose envelope is decoded) with
// its personal fields in clear text, and whether they read domain.Erased
// because the user they are about is erased. Fields written in clear text
// (an older schema version) read domain.Erased too once the user is erased.
func openBody(ctx context.Context, keys DataKeys, rec domain.Record, data []byte) ([]byte, bool, error) {
	spec, ok := domain.LookupEventSpec(rec.Type)
	if !ok || len(spec.Personal) == 0 {
		return data, false, nil
	}
	sealed := rec.SchemaVersion >= spec.SealedFrom
	if keys == nil {
		if sealed {
			return nil, false, ErrNoDataKeys
		}
		return data, false, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, false, fmt.Errorf("open %s: the body is not a JSON object", rec.Type)
	}
	subject := spec.SubjectOf(rec.Stream, obj)
	if subject == "" {
		if sealed {
			return nil, false, fmt.Errorf("open %s: the event names no user whose data it is", rec.Type)
		}
		return data, false, nil
	}
	aead, err := keys.Opener(ctx, subject)
	switch {
	case errors.Is(err, ErrErased):
		for _, f := range spec.Personal {
			if _, ok := obj[f]; ok {
				obj[f] = erasedJSON
			}
		}
		out, err := json.Marshal(obj)
		return out, true, err
	case !sealed:
		if err != nil && !errors.Is(err, ErrNoDataKey) {
			return nil, false, fmt.Errorf("open %s for user %s: %w", rec.Type, subject, err)
		}
		return data, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("open %s for user %s: %w", rec.Type, subject, err)
	}
	for _, f := range spec.Personal {
		v, ok := obj[f]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, false, fmt.Errorf("open %s: field %s is not sealed", rec.Type, f)
		}
		ct, err := base64.RawStdEncoding.DecodeString(s)
		if err != nil || len(ct) < nonceSize+aead.Overhead() {
			return nil, false, fmt.Errorf("open %s: field %s is not sealed", rec.Type, f)
		}
		clear, err := aead.Open(nil, ct[:nonceSize], ct[nonceSize:], fieldAD(rec.ID, f))
		if err != nil {
			return nil, false, fmt.Errorf("open %s: field %s does not open with the data key of user %s (moved from another event or field, or altered)", rec.Type, f, subject)
		}
		if !json.Valid(clear) {
			return nil, false, fmt.Errorf("open %s: field %s holds no JSON value", rec.Type, f)
		}
		obj[f] = clear
	}
	out, err := json.Marshal(obj)
	return out, false, err
}
