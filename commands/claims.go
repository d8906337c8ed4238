package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"inkwell/domain"
	"inkwell/logging"
)

// liveAggregate is an aggregate that can tell whether it currently exists.
type liveAggregate interface {
	aggregate
	Live() bool
}

// newOwner returns an empty aggregate of the type that can hold claims.
func newOwner(typ string) (liveAggregate, error) {
	switch typ {
	case domain.AggregateUser:
		return &domain.User{}, nil
	case domain.AggregateArticle:
		return &domain.Article{}, nil
	case domain.AggregateCategory:
		return &domain.Category{}, nil
	case domain.AggregateTag:
		return &domain.Tag{}, nil
	}
	return nil, fmt.Errorf("claims: aggregates of type %q cannot hold claims", typ)
}

// errClaimTaken is returned by takeClaim when someone else holds the claim.
var errClaimTaken = errors.New("claim taken")

// takeClaim makes owner the holder of the claim on (kind, value). Of any
// number of racing takers exactly one succeeds; the others get errClaimTaken.
//
// A claim held by an owner that no longer exists (deleted, or fenced off) is
// taken over. A claim whose owner was never created is presumed to belong to
// a creation in flight for ClaimGrace; after that, the owner's stream is
// fenced off with a CreationAbandoned event (which fails if the owner was
// created meanwhile) and the claim is taken over. So a process that dies
// between claiming and creating leaves no permanent orphan.
func (b *base) takeClaim(ctx context.Context, kind, value string, owner domain.StreamID, meta domain.Meta) error {
	_, _, err := change(ctx, b, b.Store.ClaimStream(kind, value), meta, func(c *domain.Claim) (domain.Event, error) {
		now := b.Now()
		ev, err := c.Take(owner, now) // nil if already ours
		if err == nil {
			return ev, nil
		}
		holder, since, _ := c.Held()
		gone, err := b.ownerGone(ctx, holder, since, meta)
		if err != nil {
			return nil, err
		}
		if !gone {
			return nil, errClaimTaken
		}
		return c.TakeOver(owner, now), nil
	})
	return err
}

// holderGone reports whether the holder of a claim taken at since no longer
// exists: it was deleted or fenced off, or it was never created and the
// grace period is over, in which case fence is true: the holder's stream
// must be fenced off (see ownerGone) before the claim passes on.
func (b *base) holderGone(ctx context.Context, holder domain.StreamID, since time.Time) (gone, fence bool, err error) {
	a, err := newOwner(holder.Type)
	if err != nil {
		return false, false, err
	}
	pos, err := b.load(ctx, holder, a)
	switch {
	case err != nil:
		return false, false, err
	case pos.Version > 0:
		if e, ok := a.(interface{ Erased() bool }); ok && e.Erased() {
			// An erased author's article: its text (this claim's value
			// among it) is unreadable, and it is deleted or about to be.
			return true, false, nil
		}
		return !a.Live(), false, nil
	case b.Now().Sub(since) < b.ClaimGrace:
		return false, false, nil // presumably being created right now
	}
	return true, true, nil
}

// ownerGone reports whether the holder of a claim taken at since no longer
// exists, fencing it off when its creation is presumed abandoned.
func (b *base) ownerGone(ctx context.Context, holder domain.StreamID, since time.Time, meta domain.Meta) (bool, error) {
	gone, fence, err := b.holderGone(ctx, holder, since)
	if err != nil || !fence {
		return gone, err
	}
	ev, err := domain.Abandon(domain.Position{}, "claimed at "+since.UTC().Format(time.RFC3339)+" but never created")
	if err != nil {
		return false, err
	}
	_, err = b.Store.Append(ctx, holder, domain.Position{}, meta, ev)
	if errors.Is(err, domain.ErrConcurrentChange) {
		// The holder was created (or fenced) in the meantime: look again.
		gone, _, err := b.holderGone(ctx, holder, since)
		return gone, err
	}
	if err != nil {
		return false, err
	}
	b.Logger.WarnContext(ctx, "fenced off an abandoned creation to free its claim", "owner", holder.String(), "claimed_at", since)
	return true, nil
}

// claimFree reports whether owner could take the claim on (kind, value) now,
// without changing anything: it is free, owner's already, or its holder is
// gone (or presumably abandoned its creation). Commands check every claim
// they need this way before taking any, so a request refused for a taken
// value appends nothing.
func (b *base) claimFree(ctx context.Context, kind, value string, owner domain.StreamID) (bool, error) {
	var c domain.Claim
	if _, err := b.load(ctx, b.Store.ClaimStream(kind, value), &c); err != nil {
		return false, err
	}
	holder, since, held := c.Held()
	if !held || holder == owner {
		return true, nil
	}
	gone, _, err := b.holderGone(ctx, holder, since)
	return gone, err
}

// releaseClaim gives up owner's claim on (kind, value); a claim owner does not
// hold is left alone.
func (b *base) releaseClaim(ctx context.Context, kind, value string, owner domain.StreamID, meta domain.Meta) error {
	_, _, err := change(ctx, b, b.Store.ClaimStream(kind, value), meta, func(c *domain.Claim) (domain.Event, error) {
		return c.Release(owner), nil
	})
	return err
}

// claimHolder returns who holds the claim on (kind, value), if anyone.
func (b *base) claimHolder(ctx context.Context, kind, value string) (domain.StreamID, bool, error) {
	var c domain.Claim
	if _, err := b.load(ctx, b.Store.ClaimStream(kind, value), &c); err != nil {
		return domain.StreamID{}, false, err
	}
	owner, _, held := c.Held()
	return owner, held, nil
}

// slugChange is a change of an aggregate (owner) that may move it from
// slug old to the slug asked for (nil: none asked), of kind.
type slugChange struct {
	kind  string
	owner domain.StreamID
	meta  domain.Meta
	old   string
	asked *string
}

// withSlugChange runs a change (run returns the aggregate as it stands
// after it) under a slug claim: a new slug asked for is claimed first, and
// once the change is recorded the claim the aggregate no longer uses is
// released (the new one if the change did not take it after all); a change
// that failed gives the new claim up (releaseOnFailure).
func withSlugChange[A interface{ Slug() string }](ctx context.Context, b *base, s slugChange, run func() (A, Result, error)) (Result, error) {
	newSlug := ""
	if s.asked != nil && *s.asked != s.old {
		var err error
		if newSlug, err = b.claimSlug(ctx, s.kind, *s.asked, "", "", s.owner, s.meta); err != nil {
			return Result{}, err
		}
	}
	after, res, err := run()
	if err != nil {
		return Result{}, b.releaseOnFailure(ctx, err, s.kind, newSlug, s.owner, s.meta)
	}
	if newSlug != "" {
		if after.Slug() == newSlug {
			b.release(s.kind, s.old, s.owner, s.meta)
		} else {
			b.release(s.kind, newSlug, s.owner, s.meta)
		}
	}
	return res, nil
}

// ErrSlugTaken is returned when an explicitly chosen slug belongs to another.
var ErrSlugTaken = &domain.Error{Code: domain.ECONFLICT, Message: "That slug is already taken.",
	Fields: map[string]string{"slug": "already taken"}}

// claimSlug claims a slug of kind for owner: the explicit one if given
// (ErrSlugTaken if someone else has it), else one made from title with
// fallback, adding "-2", "-3", ... and then a random suffix until a free one
// is found.
func (b *base) claimSlug(ctx context.Context, kind, explicit, title, fallback string, owner domain.StreamID, meta domain.Meta) (string, error) {
	if explicit != "" {
		free, err := b.claimFree(ctx, kind, explicit, owner)
		if err != nil {
			return "", err
		}
		if !free {
			return "", ErrSlugTaken
		}
		if err := b.takeClaim(ctx, kind, explicit, owner, meta); errors.Is(err, errClaimTaken) {
			return "", ErrSlugTaken
		} else if err != nil {
			return "", err
		}
		return explicit, nil
	}
	base := domain.Slugify(title, fallback)
	for n := 1; n <= 40; n++ {
		cand := domain.SlugCandidate(base, n)
		if n > 20 {
			cand = base + "-" + randomSuffix()
		}
		// No claimFree first: a candidate someone holds is passed over,
		// not refused, and takeClaim appends nothing for it (it reads
		// the claim once where the check and the take read it twice).
		err := b.takeClaim(ctx, kind, cand, owner, meta)
		if errors.Is(err, errClaimTaken) {
			continue
		} else if err != nil {
			return "", err
		}
		return cand, nil
	}
	return "", domain.Errorf(domain.EUNAVAILABLE, "Could not find a free slug; retry.")
}

func randomSuffix() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// release gives up a claim the command no longer needs, even if its request
// was cancelled; if that fails, the claim stays with its holder.
func (b *base) release(kind, value string, owner domain.StreamID, meta domain.Meta) {
	if value == "" {
		return
	}
	// Not the request's context, which may be what failed; its id, though,
	// for the log.
	ctx, cancel := context.WithTimeout(logging.WithRequestID(context.Background(), meta.CorrelationID), releaseTimeout)
	defer cancel()
	if err := b.releaseClaim(ctx, kind, value, owner, meta); err != nil {
		b.Logger.WarnContext(ctx, "release claim", "kind", kind, "owner", owner.String(), "err", err)
	}
}

// releaseOnFailure gives up a claim that a command took before it failed
// with cause, and returns cause. The claim is kept when cause leaves it
// unknown whether the command's change was recorded (it may hold the claim:
// giving it up could let two owners share one unique value). It is kept too
// when an idempotent request fails in a way its client retries (a 5xx): the
// retry runs again as the same attempt, which takes the claim up again as
// its own, and must find the claim as the first attempt left it. (A request
// refused for good keeps that answer: its retries replay it and run
// nothing.) A kept claim whose owner never comes to exist is freed by the
// abandonment rule of takeClaim.
func (b *base) releaseOnFailure(ctx context.Context, cause error, kind, value string, owner domain.StreamID, meta domain.Meta) error {
	code := domain.ErrorCode(cause)
	retried := domain.AttemptFrom(ctx) != nil && (code == domain.EUNAVAILABLE || code == domain.EINTERNAL)
	if !domain.OutcomeUnknown(cause) && !retried {
		b.release(kind, value, owner, meta)
	}
	return cause
}
