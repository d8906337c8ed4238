package commands

import "sync"

// tagRefs remembers how article bodies' tag references resolved, where the
// answer can never change, so that naming a tag costs no read of the log
// after the first time. A tag never changes once created (no event renames,
// deletes or abandons a created tag), and it never gives up its claims. So
// a reference that resolved to a live tag by its id, or by the claim
// resolveTag looks at first (the slug claim on the reference), resolves to
// that tag for good. One that resolved by the name claim does too when it
// cannot be a slug (a name with a space, say: tags' slug claims hold slugs
// alone, see domain.ValidSlug); otherwise a tag made later could take the
// slug claim on it (a name and a slug of different tags may meet), and
// resolveTag would answer with that one: it is looked up each time. So is
// a reference that resolved to nothing, which a new tag may come to answer
// to.
type tagRefs struct {
	mu  sync.Mutex
	ids map[string]string // reference, exactly as given → tag id
}

// maxTagRefs bounds the references remembered (some 100 bytes each); past
// it the memory starts afresh.
const maxTagRefs = 10000

// get returns the id of the tag ref resolved to, if it is remembered.
func (t *tagRefs) get(ref string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.ids[ref]
	return id, ok
}

// put remembers that ref resolves to the tag id for good.
func (t *tagRefs) put(ref, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil || len(t.ids) >= maxTagRefs {
		t.ids = make(map[string]string)
	}
	t.ids[ref] = id
}
