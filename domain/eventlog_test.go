package domain_test

import (
	"testing"

	"inkwell/domain"
)

func TestLogLossesAcceptsEachLossOnceWithAReason(t *testing.T) {
	t.Parallel()
	var l domain.LogLosses
	if _, err := l.Accept(domain.LossAccepted{First: 9, Last: 9}); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("no reason: %v, want invalid", err)
	}
	if _, err := l.Accept(domain.LossAccepted{First: 0, Last: 3, Reason: "r"}); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("sequence 0: %v, want invalid", err)
	}
	if _, err := l.Accept(domain.LossAccepted{First: 5, Last: 4, Reason: "r"}); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("backwards: %v, want invalid", err)
	}
	ev, err := l.Accept(domain.LossAccepted{First: 9, Last: 12, Reason: "  block 1 damaged, no backup  "})
	if err != nil {
		t.Fatal(err)
	}
	if a := ev.(*domain.LossAccepted); a.Reason != "block 1 damaged, no backup" || a.Range() != "9..12" {
		t.Fatalf("decided %+v", a)
	}
	l.Apply(domain.Record{Event: ev})
	if _, err := l.Accept(domain.LossAccepted{First: 10, Last: 11, Reason: "again"}); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("accepted twice: %v, want conflict", err)
	}
	if !l.CoversAll(9, 12) || l.CoversAll(8, 12) || l.CoversAll(12, 13) {
		t.Fatal("CoversAll disagrees with the acceptance of 9..12")
	}
	// A loss that overlaps one accepted is accepted for what it adds;
	// together they cover the whole stretch.
	ev, err = l.Accept(domain.LossAccepted{First: 12, Last: 14, Reason: "the rest"})
	if err != nil {
		t.Fatal(err)
	}
	l.Apply(domain.Record{Event: ev})
	if !l.CoversAll(9, 14) || len(l.All()) != 2 {
		t.Fatalf("two acceptances do not cover 9..14: %+v", l.All())
	}
	if a, ok := l.Covers(13); !ok || a.Reason != "the rest" {
		t.Fatalf("Covers(13) = %+v, %t", a, ok)
	}
}
