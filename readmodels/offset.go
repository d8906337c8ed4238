package readmodels

// MaxOffset is how many items a page by number or offset may skip
// (Page.Offset, without a cursor). A list seeks past them by their sort keys
// alone (see seek.go), so up to MaxOffset a page costs about what the first
// does; but the keys it steps over still grow with the offset, so past it
// the API refuses the page (422, naming page or offset) and points to the
// cursor, which starts where the previous page ended whatever its depth.
// Search engines bound their windows the same way (GitHub's search API
// answers the first 1,000 results).
const MaxOffset = 1000
