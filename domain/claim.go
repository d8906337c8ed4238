package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Claims make a value unique across the log (a username, an email, a slug).
// A claim is an aggregate of its own whose stream is named by a hash of the
// normalized value; taking it is an append that expects the stream's last
// event, so of any number of racing takers exactly one succeeds.

// Claim kinds.
const (
	ClaimUsername     = "username"
	ClaimEmail        = "email"
	ClaimArticleSlug  = "slug"
	ClaimCategorySlug = "categoryslug"
	ClaimTagName      = "tagname"
	ClaimTagSlug      = "tagslug"
)

// ClaimStream returns the stream of the claim on value, compared
// case-insensitively, as logs written before Inkwell keyed its claims name
// it: by an unkeyed hash of the value, which anyone can compute for a
// guessed email. See KeyedClaimStream.
func ClaimStream(kind, value string) StreamID {
	sum := sha256.Sum256([]byte(strings.ToLower(value)))
	return StreamID{Type: AggregateClaim, ID: kind + "_" + hex.EncodeToString(sum[:16])}
}

// KeyedClaimStream returns the stream of the claim on value, compared
// case-insensitively, named by an HMAC-SHA256 of the kind and value keyed
// by key: without the key, the name of a claim on an email tells nothing of
// the email.
func KeyedClaimStream(key []byte, kind, value string) StreamID {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(kind + "\x00" + strings.ToLower(value)))
	return StreamID{Type: AggregateClaim, ID: kind + "_" + hex.EncodeToString(mac.Sum(nil)[:16])}
}

// ClaimTaken records that owner (an aggregate) now holds the claim.
type ClaimTaken struct {
	Owner   StreamIDJSON `json:"owner"`
	TakenAt time.Time    `json:"taken_at"`
}

// EventType implements Event.
func (*ClaimTaken) EventType() string { return "claim.taken" }

// ClaimReleased records that owner gave the claim up.
type ClaimReleased struct {
	Owner StreamIDJSON `json:"owner"`
}

// EventType implements Event.
func (*ClaimReleased) EventType() string { return "claim.released" }

// StreamIDJSON is a StreamID as it is written in events.
type StreamIDJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Claim is the state of one claim.
type Claim struct {
	held    bool
	owner   StreamID
	takenAt time.Time
}

// Apply folds one event into the claim.
func (c *Claim) Apply(r Record) {
	switch e := r.Event.(type) {
	case *ClaimTaken:
		c.held, c.owner, c.takenAt = true, StreamID(e.Owner), e.TakenAt
	case *ClaimReleased:
		if c.held && c.owner == StreamID(e.Owner) {
			c.held, c.owner, c.takenAt = false, StreamID{}, time.Time{}
		}
	}
}

// Held reports whether someone holds the claim, and who since when.
func (c *Claim) Held() (owner StreamID, since time.Time, held bool) {
	return c.owner, c.takenAt, c.held
}

// Take decides that owner takes the claim. It returns ECONFLICT when another
// owner holds it; the caller decides whether that owner is gone (see
// commands), in which case TakeOver applies.
func (c *Claim) Take(owner StreamID, now time.Time) (Event, error) {
	if c.held && c.owner != owner {
		return nil, Errorf(ECONFLICT, "claim held by %s", c.owner)
	}
	if c.held {
		return nil, nil // already ours
	}
	return &ClaimTaken{Owner: StreamIDJSON(owner), TakenAt: now}, nil
}

// TakeOver decides that owner takes a claim whose holder is known to be gone.
func (c *Claim) TakeOver(owner StreamID, now time.Time) Event {
	return &ClaimTaken{Owner: StreamIDJSON(owner), TakenAt: now}
}

// Release decides that owner gives the claim up. Releasing a claim one does
// not hold changes nothing.
func (c *Claim) Release(owner StreamID) Event {
	if !c.held || c.owner != owner {
		return nil
	}
	return &ClaimReleased{Owner: StreamIDJSON(owner)}
}

// ClaimValue is a unique value an event records: the kind of its claim and
// the value.
type ClaimValue struct{ Kind, Value string }

// ClaimValues lists the unique values an event records, each of which its
// aggregate holds a claim on (a registration's username and email, a slug,
// a tag's name): what a rewrite of a log needs to rename the claims it
// holds (see KeyedClaimStream).
func ClaimValues(ev Event) []ClaimValue {
	var out []ClaimValue
	add := func(kind string, v *string) {
		if v != nil && *v != "" {
			out = append(out, ClaimValue{kind, *v})
		}
	}
	switch e := ev.(type) {
	case *UserRegistered:
		add(ClaimUsername, &e.Username)
		add(ClaimEmail, &e.Email)
	case *ArticleCreated:
		add(ClaimArticleSlug, &e.Slug)
	case *ArticleUpdated:
		add(ClaimArticleSlug, e.Slug)
	case *CategoryCreated:
		add(ClaimCategorySlug, &e.Slug)
	case *CategoryUpdated:
		add(ClaimCategorySlug, e.Slug)
	case *TagCreated:
		add(ClaimTagName, &e.Name)
		add(ClaimTagSlug, &e.Slug)
	}
	return out
}
