package commands

import (
	"context"
	"fmt"
	"strings"

	"inkwell/domain"
)

// CreateArticle creates an article whose author is the actor. Its input may
// name the category (Input.CategoryID) by its id or slug, and each tag
// (Input.Tags) by its id, slug or name: the handler resolves them to ids
// against the log's streams and claims.
type CreateArticle struct {
	Actor domain.Actor
	Input domain.ArticleInput
	Meta  domain.Meta
}

// CreateArticleHandler handles CreateArticle.
type CreateArticleHandler struct{ *base }

// Handle creates the article with a slug made from its title (or the one
// given), unique with a suffix when taken. Returns EUNAUTHORIZED for an
// anonymous actor, EINVALID for bad fields or an unknown category or tag,
// and ECONFLICT (ErrSlugTaken) for an explicit slug someone else has.
func (h CreateArticleHandler) Handle(ctx context.Context, cmd CreateArticle) (Result, error) {
	if cmd.Actor.IsAnonymous() {
		return Result{}, domain.ErrAuthRequired
	}
	if err := cmd.Input.Validate(); err != nil {
		return Result{}, err
	}
	if err := h.resolveReferences(ctx, &cmd.Input.CategoryID, &cmd.Input.Tags); err != nil {
		return Result{}, err
	}
	id, err := h.newID(ctx)
	if err != nil {
		return Result{}, err
	}
	owner := domain.ArticleStream(id)
	meta := h.meta(cmd.Actor, cmd.Meta)
	slug, err := h.claimSlug(ctx, domain.ClaimArticleSlug, cmd.Input.Slug, cmd.Input.Title, "article", owner, meta)
	if err != nil {
		return Result{}, err
	}
	var a domain.Article
	ev, err := a.Create(cmd.Actor, id, cmd.Input, slug, meta.OccurredAt)
	if err != nil {
		return Result{}, h.releaseOnFailure(ctx, err, domain.ClaimArticleSlug, slug, owner, meta)
	}
	recs, err := h.Store.Append(ctx, owner, domain.Position{}, meta, ev)
	if err != nil {
		return Result{}, h.releaseOnFailure(ctx, fmt.Errorf("create article: %w", err), domain.ClaimArticleSlug, slug, owner, meta)
	}
	return resultOf(id, recs), nil
}

// meta completes a command's envelope with its actor and time.
func (b *base) meta(actor domain.Actor, m domain.Meta) domain.Meta {
	if m.ActorID == "" {
		m.ActorID = actor.ID
	}
	m.OccurredAt = b.Now()
	return m
}

// resolveReferences resolves, in place, the category (when set) and the
// tags an article names to their ids, against the log alone: an id is
// looked up in its aggregate's stream; a category's slug, or a tag's slug or
// name, in the claim that holds it. One that does not exist (or no longer
// does) is a field problem naming it as given. Nil pointers are not
// resolved.
func (b *base) resolveReferences(ctx context.Context, category *string, tags *[]string) error {
	p := domain.Problems{}
	if category != nil && *category != "" {
		id, err := b.resolveCategory(ctx, *category)
		switch {
		case err != nil:
			return err
		case id == "":
			p.Add("category", "unknown category "+*category)
		default:
			*category = id
		}
	}
	if tags != nil {
		ids := make([]string, 0, len(*tags))
		for _, ref := range *tags {
			id, err := b.resolveTag(ctx, ref)
			if err != nil {
				return err
			}
			if id == "" {
				p.Add("tags", "unknown tag "+ref)
				break
			}
			ids = append(ids, id)
		}
		if p.Err() == nil {
			*tags = ids
		}
	}
	return p.Err()
}

// resolveCategory returns the id of the live category whose id or slug is
// ref, or "" when there is none.
func (b *base) resolveCategory(ctx context.Context, ref string) (string, error) {
	id, _, err := b.claimedID(ctx, ref, domain.AggregateCategory, domain.ClaimCategorySlug)
	if err != nil || id == "" {
		return "", err
	}
	var c domain.Category
	if _, err := b.load(ctx, domain.CategoryStream(id), &c); err != nil {
		return "", err
	}
	if !c.Live() || id != ref && c.Slug() != ref {
		return "", nil
	}
	return id, nil
}

// resolveTag returns the id of the tag whose id, slug or name (in any case)
// is ref, or "" when there is none. An answer that cannot change is
// remembered (see tagRefs): naming a tag again reads nothing.
func (b *base) resolveTag(ctx context.Context, ref string) (string, error) {
	if id, ok := b.tags.get(ref); ok {
		return id, nil
	}
	id, kind, err := b.claimedID(ctx, ref, domain.AggregateTag, domain.ClaimTagSlug, domain.ClaimTagName)
	if err != nil || id == "" {
		return "", err
	}
	var t domain.Tag
	if _, err := b.load(ctx, domain.TagStream(id), &t); err != nil {
		return "", err
	}
	if !t.Live() || id != ref && t.Slug() != ref && !strings.EqualFold(t.Name(), ref) {
		return "", nil
	}
	if kind != domain.ClaimTagName || !domain.ValidSlug(strings.ToLower(ref)) {
		b.tags.put(ref, id)
	}
	return id, nil
}

// claimedID returns ref when it is an id, else the id of the aggregate of
// type typ holding the first claim of kinds on ref, or "" when none does,
// and the kind of that claim ("" for an id). The caller checks that the
// aggregate is live and still answers to ref (a claim may outlive a
// creation given up).
func (b *base) claimedID(ctx context.Context, ref, typ string, kinds ...string) (string, string, error) {
	if domain.ValidID(ref) {
		return ref, "", nil
	}
	for _, kind := range kinds {
		holder, held, err := b.claimHolder(ctx, kind, ref)
		if err != nil {
			return "", "", err
		}
		if held && holder.Type == typ {
			return holder.ID, kind, nil
		}
	}
	return "", "", nil
}

// loadArticle loads an article by id; an id that cannot exist is not found.
func (b *base) loadArticle(ctx context.Context, id string) (*domain.Article, domain.Position, error) {
	return loadByID[domain.Article](ctx, b, id, domain.ArticleStream, domain.ErrArticleNotFound)
}

// changeArticle loads the article, lets decide produce its event and appends
// it, retrying from a fresh load on a concurrent change. A nil event changes
// nothing. It returns the article as it stands afterwards.
func (b *base) changeArticle(ctx context.Context, id string, meta domain.Meta, decide func(a *domain.Article) (domain.Event, error)) (*domain.Article, Result, error) {
	return changeByID(ctx, b, id, domain.ArticleStream, domain.ErrArticleNotFound, meta, decide)
}

// UpdateArticle changes some fields of an article. Its changes may name the
// category and the tags as CreateArticle's input does.
type UpdateArticle struct {
	Actor   domain.Actor
	ID      string
	IfMatch *uint64 // the version the caller last saw (If-Match), if any
	Changes domain.ArticleChanges
	Meta    domain.Meta
}

// UpdateArticleHandler handles UpdateArticle.
type UpdateArticleHandler struct{ *base }

// Handle applies the changes. Only the author or staff may change an article
// (EFORBIDDEN; ENOTFOUND for someone else's draft); a stale IfMatch gives
// EPRECONDITION. A concurrent change to other fields is merged by retrying.
func (h UpdateArticleHandler) Handle(ctx context.Context, cmd UpdateArticle) (Result, error) {
	a, pos, err := h.loadArticle(ctx, cmd.ID)
	if err != nil {
		return Result{}, err
	}
	if err := a.Authorize(cmd.Actor, cmd.IfMatch); err != nil {
		return Result{}, refused(err, domain.ArticleStream(cmd.ID), pos)
	}
	if err := cmd.Changes.Validate(); err != nil {
		return Result{}, err
	}
	if err := h.resolveReferences(ctx, cmd.Changes.CategoryID, cmd.Changes.Tags); err != nil {
		return Result{}, err
	}
	meta := h.meta(cmd.Actor, cmd.Meta)
	s := slugChange{kind: domain.ClaimArticleSlug, owner: domain.ArticleStream(cmd.ID), meta: meta, old: a.Slug(), asked: cmd.Changes.Slug}
	return withSlugChange(ctx, h.base, s, func() (*domain.Article, Result, error) {
		return h.changeArticle(ctx, cmd.ID, meta, func(a *domain.Article) (domain.Event, error) {
			return a.Update(cmd.Actor, cmd.IfMatch, cmd.Changes, meta.OccurredAt)
		})
	})
}

// DeleteArticle deletes an article.
type DeleteArticle struct {
	Actor   domain.Actor
	ID      string
	IfMatch *uint64
	Meta    domain.Meta
}

// DeleteArticleHandler handles DeleteArticle.
type DeleteArticleHandler struct{ *base }

// Handle deletes the article (author or staff; staff only when
// ArticleDeleteStaffOnly) and frees its slug.
func (h DeleteArticleHandler) Handle(ctx context.Context, cmd DeleteArticle) (Result, error) {
	meta := h.meta(cmd.Actor, cmd.Meta)
	a, res, err := h.changeArticle(ctx, cmd.ID, meta, func(a *domain.Article) (domain.Event, error) {
		return a.Delete(cmd.Actor, cmd.IfMatch, h.ArticleDeleteStaffOnly)
	})
	if err != nil {
		return Result{}, err
	}
	h.release(domain.ClaimArticleSlug, a.Slug(), domain.ArticleStream(cmd.ID), meta)
	return res, nil
}

// PublishArticle makes an article public.
type PublishArticle struct {
	Actor domain.Actor
	ID    string
	Meta  domain.Meta
}

// PublishArticleHandler handles PublishArticle.
type PublishArticleHandler struct{ *base }

// Handle publishes the article (author or staff); publishing a published
// article changes nothing.
func (h PublishArticleHandler) Handle(ctx context.Context, cmd PublishArticle) (Result, error) {
	meta := h.meta(cmd.Actor, cmd.Meta)
	_, res, err := h.changeArticle(ctx, cmd.ID, meta, func(a *domain.Article) (domain.Event, error) {
		return a.Publish(cmd.Actor, meta.OccurredAt)
	})
	return res, err
}

// UnpublishArticle turns an article back into a draft.
type UnpublishArticle struct {
	Actor domain.Actor
	ID    string
	Meta  domain.Meta
}

// UnpublishArticleHandler handles UnpublishArticle.
type UnpublishArticleHandler struct{ *base }

// Handle unpublishes the article (author or staff).
func (h UnpublishArticleHandler) Handle(ctx context.Context, cmd UnpublishArticle) (Result, error) {
	meta := h.meta(cmd.Actor, cmd.Meta)
	_, res, err := h.changeArticle(ctx, cmd.ID, meta, func(a *domain.Article) (domain.Event, error) {
		return a.Unpublish(cmd.Actor)
	})
	return res, err
}

// DeleteAuthorsArticle deletes an article because its author's account was
// deleted. Inkwell issues it itself (see package reactors).
type DeleteAuthorsArticle struct {
	ArticleID string
	AuthorID  string
	Meta      domain.Meta
}

// DeleteAuthorsArticleHandler handles DeleteAuthorsArticle.
type DeleteAuthorsArticleHandler struct{ *base }

// Handle deletes the article if it is live and by that author; otherwise (it
// is already deleted, say because this command is redelivered) it changes
// nothing and reports no error.
func (h DeleteAuthorsArticleHandler) Handle(ctx context.Context, cmd DeleteAuthorsArticle) (Result, error) {
	meta := h.meta(domain.SystemActor, cmd.Meta)
	var deletedNow bool
	a, res, err := h.changeArticle(ctx, cmd.ArticleID, meta, func(a *domain.Article) (domain.Event, error) {
		ev := a.DeleteForAuthorRemoval(cmd.AuthorID)
		deletedNow = ev != nil
		return ev, nil
	})
	if err != nil {
		return Result{}, err
	}
	if deletedNow && !a.Erased() {
		// An erased author's slug is unreadable: its claim stays, and
		// passes on to whoever takes the slug (its holder reads as gone).
		h.release(domain.ClaimArticleSlug, a.Slug(), domain.ArticleStream(cmd.ArticleID), meta)
	}
	return res, nil
}
