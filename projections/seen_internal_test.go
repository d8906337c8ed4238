package projections

import (
	"fmt"
	"testing"

	"inkwell/domain"
)

// The filter of a rebuild's aggregates never forgets one it was given, and
// takes few of the others for one of them.
func TestSeenFilter(t *testing.T) {
	f := newSeenFilter()
	const n = 200000
	for i := range n {
		f.add(domain.StreamID{Type: domain.AggregateArticle, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i)})
	}
	for i := range n {
		if s := (domain.StreamID{Type: domain.AggregateArticle, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i)}); !f.mayHave(s) {
			t.Fatalf("%v was added and is not there", s)
		}
	}
	wrong := 0
	for i := range n {
		// The same ids of another aggregate type, and other ids.
		if f.mayHave(domain.StreamID{Type: domain.AggregateUser, ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i)}) {
			wrong++
		}
		if f.mayHave(domain.StreamID{Type: domain.AggregateArticle, ID: fmt.Sprintf("00000000-0000-7000-9000-%012d", i)}) {
			wrong++
		}
	}
	// 2^25 bits and 4 probes hold 200,000 with about one false answer in
	// a million; a hundred in 400,000 would be a broken filter.
	if wrong > 100 {
		t.Fatalf("%d of %d aggregates never added taken for added ones", wrong, 2*n)
	}
}
