package eventstore

import (
	"testing"

	"inkwell/domain"
)

// The tail takes a follower at its own position: ahead of the tail by up
// to tailAhead events, with nothing handed out yet; behind it, from its
// latest events if they hold the very next one (those of the follower's
// subjects); otherwise not.
func TestTailJoinsFollowersNearIt(t *testing.T) {
	tl := &tail{pos: 10000, ring: make([]item, 0, tailRing), subs: map[*tailSub]bool{}}
	// The latest events: 9,401 to 10,000 (the ring keeps the last 512 of
	// them, from 9,489), articles and claims in turn.
	for seq := uint64(9401); seq <= 10000; seq++ {
		subject := "inkwell.article.a"
		if seq%2 == 0 {
			subject = "inkwell.claim.c"
		}
		tl.handOut(item{rec: domain.Record{Seq: seq}, subject: subject})
	}
	articles := []string{"inkwell.article.*"}
	for _, c := range []struct {
		pos    uint64
		match  []string
		ok     bool
		handed int // events waiting for it at once
	}{
		{10000, nil, true, 0},
		{10000 + tailAhead, articles, true, 0},
		{10000 + tailAhead + 1, nil, false, 0},
		{9990, nil, true, 10},
		{9990, articles, true, 5},
		{10000 - tailRing, nil, true, tailRing},
		{10000 - tailRing - 1, nil, false, 0},
		{1, nil, false, 0},
	} {
		sub, ok, ended := tl.join(c.pos, c.match)
		if ok != c.ok || ended {
			t.Errorf("join at %d: ok %v, ended %v; want ok %v", c.pos, ok, ended, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if len(sub.ch) != c.handed {
			t.Errorf("join at %d: %d events waiting; want %d", c.pos, len(sub.ch), c.handed)
		}
		for prev := c.pos; len(sub.ch) > 0; {
			it := <-sub.ch
			if it.rec.Seq <= prev {
				t.Errorf("join at %d: event %d after %d", c.pos, it.rec.Seq, prev)
			}
			prev = it.rec.Seq
		}
	}
}

// A follower that leaves tailBuffer events waiting is let go, and a tail
// with no follower left says so (its run ends it).
func TestTailLetsGoOfAFollowerThatDoesNotTake(t *testing.T) {
	tl := &tail{ring: make([]item, 0, tailRing), subs: map[*tailSub]bool{}}
	slow, _, _ := tl.join(0, nil)
	quick, _, _ := tl.join(0, nil)
	for seq := uint64(1); seq <= tailBuffer+1; seq++ {
		if !tl.handOut(item{rec: domain.Record{Seq: seq}}) {
			t.Fatalf("at %d: no follower left", seq)
		}
		<-quick.ch
	}
	if tl.subs[slow] || !tl.subs[quick] {
		t.Fatalf("on the tail: slow %v, quick %v; want only quick", tl.subs[slow], tl.subs[quick])
	}
	n := 0
	for range slow.ch {
		n++
	}
	if n != tailBuffer {
		t.Fatalf("%d events left for the follower let go; want the %d that fitted", n, tailBuffer)
	}
	for seq := uint64(tailBuffer + 2); len(quick.ch) < tailBuffer; seq++ {
		tl.handOut(item{rec: domain.Record{Seq: seq}})
	}
	if tl.handOut(item{rec: domain.Record{Seq: 3 * tailBuffer}}) {
		t.Fatal("the tail says it has followers once the last was let go")
	}
}
