package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"inkwell/domain"
)

// Imports records aggregates brought from another system (inkwell import
// django), each with the event that would have created it and the
// original's times. The original's key is claimed for the new aggregate
// (domain.ClaimImported): an import run again finds the key held and
// skips the row, even if the aggregate was deleted since, and an old key
// still finds its aggregate (Lookup). Its unique values (username, email,
// slugs, tag names) are claimed as the native commands claim them, so an
// import onto a log already in use cannot take what someone holds.
type Imports struct{ b *base }

// NewImports returns the import commands over deps (as New's).
func NewImports(deps Deps) *Imports {
	return &Imports{b: newBase("NewImports", deps)}
}

// Imported is the outcome of importing one row: the id of the aggregate it
// is, and whether an earlier import had recorded it already.
type Imported struct {
	ID      string
	Existed bool
}

// ErrImportInFlight is the answer for a row whose key another import is
// recording right now.
var ErrImportInFlight = domain.Errorf(domain.ECONFLICT, "Another import is recording this row right now.")

// Lookup returns the id of the aggregate of type typ that the row with key
// in source became, if an import recorded it.
func (im *Imports) Lookup(ctx context.Context, source, typ, key string) (string, bool, error) {
	owner, created, err := im.keyHolder(ctx, source, typ, key)
	if err != nil || !created {
		return "", false, err
	}
	return owner.ID, true, nil
}

// keyHolder returns who holds the claim on a row's key, and whether that
// aggregate was created (a holder never created is an import that died
// half-way, or one in flight).
func (im *Imports) keyHolder(ctx context.Context, source, typ, key string) (domain.StreamID, bool, error) {
	owner, held, err := im.b.claimHolder(ctx, domain.ClaimImported(source, typ), key)
	if err != nil || !held || owner.Type != typ {
		return domain.StreamID{}, false, err
	}
	recs, _, err := im.b.Store.Load(ctx, owner)
	if err != nil {
		return domain.StreamID{}, false, err
	}
	for _, r := range recs {
		if _, abandoned := r.Event.(*domain.CreationAbandoned); abandoned {
			return owner, false, nil
		}
	}
	return owner, len(recs) > 0, nil
}

// uniqueValue is a value an imported aggregate must claim, with the error
// for one that someone else holds.
type uniqueValue struct {
	kind, value string
	taken       error
}

// importOne records the row with key as a new aggregate of type typ:
// unless an earlier import recorded the key, it checks every unique value
// is free, claims the key and the values, lets decide (given the new id)
// make the creation event, and appends it with meta (its OccurredAt is the
// import's time). Claims taken are given back on a certain failure.
func (im *Imports) importOne(ctx context.Context, source, typ, key string, values []uniqueValue, meta domain.Meta,
	stream func(string) domain.StreamID, decide func(id string) (domain.Event, error)) (Imported, error) {
	b := im.b
	if owner, created, err := im.keyHolder(ctx, source, typ, key); err != nil {
		return Imported{}, err
	} else if created {
		return Imported{ID: owner.ID, Existed: true}, nil
	}
	id, err := b.newID(ctx)
	if err != nil {
		return Imported{}, err
	}
	owner := stream(id)
	meta.OccurredAt = b.Now()
	for _, v := range values {
		free, err := b.claimFree(ctx, v.kind, v.value, owner)
		if err != nil {
			return Imported{}, err
		}
		if !free {
			return Imported{}, v.taken
		}
	}
	keyKind := domain.ClaimImported(source, typ)
	if err := b.takeClaim(ctx, keyKind, key, owner, meta); errors.Is(err, errClaimTaken) {
		return Imported{}, ErrImportInFlight
	} else if err != nil {
		return Imported{}, err
	}
	taken := []uniqueValue{{kind: keyKind, value: key}}
	giveBack := func(cause error) error {
		for _, v := range taken {
			b.releaseOnFailure(ctx, cause, v.kind, v.value, owner, meta)
		}
		return cause
	}
	for _, v := range values {
		if err := b.takeClaim(ctx, v.kind, v.value, owner, meta); errors.Is(err, errClaimTaken) {
			return Imported{}, giveBack(v.taken)
		} else if err != nil {
			return Imported{}, giveBack(err)
		}
		taken = append(taken, v)
	}
	ev, err := decide(id)
	if err != nil {
		return Imported{}, giveBack(err)
	}
	if _, err := b.Store.Append(ctx, owner, domain.Position{}, meta, ev); err != nil {
		return Imported{}, giveBack(fmt.Errorf("import %s %s: %w", typ, key, err))
	}
	return Imported{ID: id}, nil
}

// ImportUser records an account of source with key; a superuser who is
// active joins the roster of superusers.
func (im *Imports) ImportUser(ctx context.Context, source, key string, in domain.ImportedAccount, meta domain.Meta) (Imported, error) {
	values := []uniqueValue{{domain.ClaimUsername, in.User.Username, ErrUsernameTaken}, {domain.ClaimEmail, in.User.Email, ErrEmailTaken}}
	res, err := im.importOne(ctx, source, domain.AggregateUser, key, values, meta, domain.UserStream, func(id string) (domain.Event, error) {
		var u domain.User
		return u.Import(id, in)
	})
	if err != nil || res.Existed || !in.User.Superuser || !in.Active {
		return res, err
	}
	meta.OccurredAt = im.b.Now()
	if err := im.b.rosterAdd(ctx, res.ID, meta); err != nil {
		return res, fmt.Errorf("import user %s: superuser roster: %w", key, err)
	}
	return res, nil
}

// ImportCategory records a category of source with key, with its slug.
func (im *Imports) ImportCategory(ctx context.Context, source, key string, in domain.CategoryInput, createdAt time.Time, meta domain.Meta) (Imported, error) {
	values := []uniqueValue{{domain.ClaimCategorySlug, in.Slug, ErrSlugTaken}}
	return im.importOne(ctx, source, domain.AggregateCategory, key, values, meta, domain.CategoryStream, func(id string) (domain.Event, error) {
		var c domain.Category
		return c.Create(domain.Actor{ID: domain.SystemActorID, Staff: true}, id, in, in.Slug, createdAt)
	})
}

// ImportTag records a tag of source with key, with its name and slug.
func (im *Imports) ImportTag(ctx context.Context, source, key, name, slug string, createdAt time.Time, meta domain.Meta) (Imported, error) {
	if !domain.ValidSlug(slug) {
		// Tags' slug claims hold slugs alone (see tagRefs).
		p := domain.Problems{}
		p.Add("slug", "must be lower-case letters, digits and single hyphens")
		return Imported{}, p.Err()
	}
	values := []uniqueValue{{domain.ClaimTagName, name, ErrTagExists}, {domain.ClaimTagSlug, slug, ErrSlugTaken}}
	return im.importOne(ctx, source, domain.AggregateTag, key, values, meta, domain.TagStream, func(id string) (domain.Event, error) {
		var t domain.Tag
		return t.Create(domain.Actor{ID: domain.SystemActorID}, id, name, slug, createdAt)
	})
}

// ImportArticle records an article of source with key, with its slug.
func (im *Imports) ImportArticle(ctx context.Context, source, key string, in domain.ImportedArticle, meta domain.Meta) (Imported, error) {
	if err := in.Input.Validate(); err != nil {
		return Imported{}, err // before any claim
	}
	values := []uniqueValue{{domain.ClaimArticleSlug, in.Input.Slug, ErrSlugTaken}}
	return im.importOne(ctx, source, domain.AggregateArticle, key, values, meta, domain.ArticleStream, func(id string) (domain.Event, error) {
		var a domain.Article
		return a.Import(id, in, in.Input.Slug)
	})
}

// rehash replaces the password hash of u, whose password just matched it,
// by an argon2id hash of password when it is an imported hash or (with a
// hasher that tells, auth.Hasher's Current) an argon2id hash of other
// parameters than the hasher's, as Django upgrades its own hashes at
// login. A failure is logged, not returned: the login stands,
// and the next one tries again.
func (b *base) rehash(ctx context.Context, u *domain.User, password string, meta domain.Meta) {
	current, knows := b.Hasher.(interface{ Current(hash string) bool })
	if !domain.ImportedPasswordHash(u.PasswordHash()) && (!knows || current.Current(u.PasswordHash())) {
		return
	}
	hash, err := b.Hasher.Hash(ctx, password)
	if err == nil {
		if meta.ActorID == "" {
			meta.ActorID = u.ID()
		}
		meta.OccurredAt = b.Now()
		_, _, err = change(ctx, b, domain.UserStream(u.ID()), meta, func(cur *domain.User) (domain.Event, error) {
			return cur.Rehash(hash), nil
		})
	}
	if err != nil {
		b.Logger.WarnContext(ctx, "replace an imported password hash", "user", u.ID(), "err", err)
	}
}

// ErrTokenExchanged answers a refresh token of the other system that was
// already exchanged for a session: each is exchanged once.
var ErrTokenExchanged = domain.Errorf(domain.EUNAUTHORIZED, "This refresh token was already used.")

// SessionForToken returns the Inkwell session a token the other system
// issued (source's app: a Django token, verified by the caller) stands
// for: subject is the user's key there, tokenHash names the token. Its
// first use starts a session for the account the subject became, and
// claims the token for it (kind source+"token"); later uses of an access
// token (reuse) find that session again, and are refused once it ended (a
// logout, a password change, a logout from everywhere); a refresh token is
// exchanged once (ErrTokenExchanged after). An account whose sessions were
// ever revoked in Inkwell, or that may not act, starts none.
func (im *Imports) SessionForToken(ctx context.Context, source, subject, tokenHash string, reuse bool, client string, meta domain.Meta) (*Session, error) {
	b := im.b
	kind := source + "token"
	for range 2 { // a second time after losing a race for the claim
		owner, held, err := b.claimHolder(ctx, kind, tokenHash)
		if err != nil {
			return nil, err
		}
		if held {
			if !reuse || owner.Type != domain.AggregateSession {
				return nil, ErrTokenExchanged
			}
			return im.tokenSession(ctx, owner.ID)
		}
		userID, found, err := im.Lookup(ctx, source, domain.AggregateUser, subject)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, domain.ErrNoSuchAccount
		}
		u, err := b.currentUser(ctx, userID)
		if err != nil {
			return nil, err
		}
		if u.EverRevoked() {
			return nil, domain.ErrSessionEnded
		}
		sid, err := b.newID(ctx)
		if err != nil {
			return nil, err
		}
		rid, err := newRefreshID(ctx)
		if err != nil {
			return nil, err
		}
		if meta.ActorID == "" {
			meta.ActorID = u.ID()
		}
		meta.OccurredAt = b.Now()
		stream := domain.SessionStream(sid)
		if err := b.takeClaim(ctx, kind, tokenHash, stream, meta); errors.Is(err, errClaimTaken) {
			continue
		} else if err != nil {
			return nil, err
		}
		var s domain.Session
		ev, err := s.Start(sid, u.ID(), rid, client, meta.OccurredAt)
		if err == nil {
			_, err = b.Store.Append(ctx, stream, domain.Position{}, meta, ev)
		}
		if err != nil {
			// The claim stays: a token is exchanged at most once.
			return nil, fmt.Errorf("start a session for a %s token: %w", source, err)
		}
		return &Session{User: u, SessionID: sid, RefreshID: rid}, nil
	}
	return nil, ErrTokenExchanged
}

// tokenSession returns session id with its user, if both may still act.
func (im *Imports) tokenSession(ctx context.Context, id string) (*Session, error) {
	s, _, err := im.b.loadSession(ctx, id)
	if err != nil {
		return nil, err
	}
	u, err := im.b.currentUser(ctx, s.UserID())
	if err != nil {
		return nil, err
	}
	if err := u.HoldsSession(s, id); err != nil {
		return nil, err
	}
	return &Session{User: u, SessionID: id}, nil
}

// eachLoader loads several streams in one round trip (eventstore.Store).
type eachLoader interface {
	LoadEach(ctx context.Context, ids ...domain.StreamID) ([][]domain.Record, []domain.Position, error)
}

// LookupMany is Lookup of many keys, in two round trips to the log where it
// can (the keys' claims, then the aggregates holding them): it returns the
// id of each key an import recorded. A rerun over a large database spends
// most of its time finding what is there already.
func (im *Imports) LookupMany(ctx context.Context, source, typ string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	el, ok := im.b.Store.(eachLoader)
	if !ok {
		for _, k := range keys {
			id, found, err := im.Lookup(ctx, source, typ, k)
			if err != nil {
				return nil, err
			}
			if found {
				out[k] = id
			}
		}
		return out, nil
	}
	kind := domain.ClaimImported(source, typ)
	streams := make([]domain.StreamID, len(keys))
	for i, k := range keys {
		streams[i] = im.b.Store.ClaimStream(kind, k)
	}
	claims, _, err := el.LoadEach(ctx, streams...)
	if err != nil {
		return nil, err
	}
	var held []string // keys, in the order of owners
	var owners []domain.StreamID
	for i, recs := range claims {
		var c domain.Claim
		for _, r := range recs {
			c.Apply(r)
		}
		if owner, _, ok := c.Held(); ok && owner.Type == typ {
			held, owners = append(held, keys[i]), append(owners, owner)
		}
	}
	if len(owners) == 0 {
		return out, nil
	}
	aggs, _, err := el.LoadEach(ctx, owners...)
	if err != nil {
		return nil, err
	}
	for i, recs := range aggs {
		created := len(recs) > 0
		for _, r := range recs {
			if _, abandoned := r.Event.(*domain.CreationAbandoned); abandoned {
				created = false
			}
		}
		if created {
			out[held[i]] = owners[i].ID
		}
	}
	return out, nil
}
