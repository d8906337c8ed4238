package domain_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"inkwell/domain"
)

// ValidID takes exactly the 36-character UUIDs (any version, either case)
// that the uuid package parses, and nothing else.
func TestValidIDAgreesWithTheUUIDParser(t *testing.T) {
	t.Parallel()
	cases := []string{
		"0190f3f5-0000-7000-8000-000000000001", "0190F3F5-ABCD-7000-8000-00000000000A", uuid.NewString(),
		"", "0190f3f5-0000-7000-8000-00000000000", "0190f3f5-0000-7000-8000-0000000000011",
		"0190f3f5x0000-7000-8000-000000000001", "0190f3f5-0000-7000-8000-00000000000g",
		"{0190f3f5-0000-7000-8000-000000001}", "urn:uuid:0190f3f5-0000-7000-8000-0001",
		"0190f3f500007000800000000000000100ab", strings.Repeat("-", 36), "not an id",
	}
	for _, s := range cases {
		_, err := uuid.Parse(s)
		want := err == nil && len(s) == 36
		if got := domain.ValidID(s); got != want {
			t.Errorf("ValidID(%q) = %t, want %t", s, got, want)
		}
	}
}
