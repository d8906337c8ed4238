package commands

import (
	"context"
	"errors"
	"fmt"

	"inkwell/domain"
)

// CreateCategory creates a category (staff only).
type CreateCategory struct {
	Actor domain.Actor
	Input domain.CategoryInput
	Meta  domain.Meta
}

// CreateCategoryHandler handles CreateCategory.
type CreateCategoryHandler struct{ *base }

// Handle creates the category with a unique slug (made from its name unless
// given). Returns EFORBIDDEN for non-staff, EINVALID for bad fields and
// ECONFLICT (ErrSlugTaken) for an explicit slug someone else has.
func (h CreateCategoryHandler) Handle(ctx context.Context, cmd CreateCategory) (Result, error) {
	// Rights and fields first, so that a refused command appends nothing.
	if err := domain.RequireStaff(cmd.Actor, "create categories"); err != nil {
		return Result{}, err
	}
	if err := cmd.Input.Validate(); err != nil {
		return Result{}, err
	}
	var c domain.Category
	id, err := h.newID(ctx)
	if err != nil {
		return Result{}, err
	}
	owner := domain.CategoryStream(id)
	meta := h.meta(cmd.Actor, cmd.Meta)
	slug, err := h.claimSlug(ctx, domain.ClaimCategorySlug, cmd.Input.Slug, cmd.Input.Name, "category", owner, meta)
	if err != nil {
		return Result{}, err
	}
	ev, err := c.Create(cmd.Actor, id, cmd.Input, slug, meta.OccurredAt)
	if err == nil {
		var recs []domain.Record
		if recs, err = h.Store.Append(ctx, owner, domain.Position{}, meta, ev); err == nil {
			return resultOf(id, recs), nil
		}
	}
	return Result{}, h.releaseOnFailure(ctx, fmt.Errorf("create category: %w", err), domain.ClaimCategorySlug, slug, owner, meta)
}

// UpdateCategory changes some fields of a category (staff only).
type UpdateCategory struct {
	Actor   domain.Actor
	ID      string
	Changes domain.CategoryChanges
	Meta    domain.Meta
}

// UpdateCategoryHandler handles UpdateCategory.
type UpdateCategoryHandler struct{ *base }

// Handle applies the changes.
func (h UpdateCategoryHandler) Handle(ctx context.Context, cmd UpdateCategory) (Result, error) {
	c, pos, err := loadByID[domain.Category](ctx, h.base, cmd.ID, domain.CategoryStream, domain.ErrCategoryNotFound)
	if err != nil {
		return Result{}, err
	}
	sid := domain.CategoryStream(cmd.ID)
	// Rights and fields first, so that a refused command appends nothing.
	if _, err := c.Update(cmd.Actor, cmd.Changes); err != nil {
		return Result{}, refused(err, sid, pos)
	}
	meta := h.meta(cmd.Actor, cmd.Meta)
	s := slugChange{kind: domain.ClaimCategorySlug, owner: sid, meta: meta, old: c.Slug(), asked: cmd.Changes.Slug}
	return withSlugChange(ctx, h.base, s, func() (*domain.Category, Result, error) {
		return change(ctx, h.base, sid, meta, func(c *domain.Category) (domain.Event, error) {
			return c.Update(cmd.Actor, cmd.Changes)
		})
	})
}

// DeleteCategory deletes a category (staff only); its articles keep no category.
type DeleteCategory struct {
	Actor domain.Actor
	ID    string
	Meta  domain.Meta
}

// DeleteCategoryHandler handles DeleteCategory.
type DeleteCategoryHandler struct{ *base }

// Handle deletes the category and frees its slug.
func (h DeleteCategoryHandler) Handle(ctx context.Context, cmd DeleteCategory) (Result, error) {
	meta := h.meta(cmd.Actor, cmd.Meta)
	c, res, err := changeByID(ctx, h.base, cmd.ID, domain.CategoryStream, domain.ErrCategoryNotFound, meta, func(c *domain.Category) (domain.Event, error) {
		return c.Delete(cmd.Actor)
	})
	if err != nil {
		return Result{}, err
	}
	h.release(domain.ClaimCategorySlug, c.Slug(), domain.CategoryStream(cmd.ID), meta)
	return res, nil
}

// CreateTag creates a tag (any authenticated user).
type CreateTag struct {
	Actor domain.Actor
	Name  string
	Meta  domain.Meta
}

// CreateTagHandler handles CreateTag.
type CreateTagHandler struct{ *base }

// ErrTagExists is returned for a tag name that exists (in any case).
var ErrTagExists = &domain.Error{Code: domain.ECONFLICT, Message: "A tag with that name already exists.",
	Fields: map[string]string{"name": "already exists"}}

// Handle creates the tag. Names are unique without regard to case.
func (h CreateTagHandler) Handle(ctx context.Context, cmd CreateTag) (Result, error) {
	if cmd.Actor.IsAnonymous() {
		return Result{}, domain.ErrAuthRequired
	}
	if err := domain.ValidateTagName(cmd.Name); err != nil {
		return Result{}, err
	}
	var t domain.Tag
	id, err := h.newID(ctx)
	if err != nil {
		return Result{}, err
	}
	owner := domain.TagStream(id)
	meta := h.meta(cmd.Actor, cmd.Meta)
	if free, err := h.claimFree(ctx, domain.ClaimTagName, cmd.Name, owner); err != nil {
		return Result{}, err
	} else if !free {
		return Result{}, ErrTagExists
	}
	if err := h.takeClaim(ctx, domain.ClaimTagName, cmd.Name, owner, meta); errors.Is(err, errClaimTaken) {
		return Result{}, ErrTagExists
	} else if err != nil {
		return Result{}, err
	}
	slug, err := h.claimSlug(ctx, domain.ClaimTagSlug, "", cmd.Name, "tag", owner, meta)
	if err != nil {
		return Result{}, h.releaseOnFailure(ctx, err, domain.ClaimTagName, cmd.Name, owner, meta)
	}
	ev, err := t.Create(cmd.Actor, id, cmd.Name, slug, meta.OccurredAt)
	if err == nil {
		var recs []domain.Record
		if recs, err = h.Store.Append(ctx, owner, domain.Position{}, meta, ev); err == nil {
			return resultOf(id, recs), nil
		}
	}
	err = h.releaseOnFailure(ctx, fmt.Errorf("create tag: %w", err), domain.ClaimTagName, cmd.Name, owner, meta)
	return Result{}, h.releaseOnFailure(ctx, err, domain.ClaimTagSlug, slug, owner, meta)
}
