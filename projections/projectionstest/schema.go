package projectionstest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"inkwell/projections"
)

// SchemaFingerprint is the SHA-256 of p's schema template, in hexadecimal.
func SchemaFingerprint(p projections.Projection) string {
	sum := sha256.Sum256([]byte(p.Schema()))
	return hex.EncodeToString(sum[:])
}

// CheckSchemaVersion fails unless recorded, the fingerprint of p's schema
// recorded for each of its versions, holds p's schema as it is for p's
// Version(). A read model's tables are made once per version, and an
// existing database keeps them until a new version rebuilds them from the
// log: a schema changed without a new version passes every test on a fresh
// database and breaks an existing one. So each version's schema is
// recorded where a change of it is seen: a change of the schema is a new
// version, with its fingerprint recorded beside the others.
func CheckSchemaVersion(t *testing.T, p projections.Projection, recorded map[int]string) {
	t.Helper()
	got := SchemaFingerprint(p)
	want, ok := recorded[p.Version()]
	switch {
	case !ok:
		t.Fatalf("the schema of %s version %d is not recorded: record it as %d: %q (beside the earlier versions')", p.Name(), p.Version(), p.Version(), got)
	case got != want:
		t.Fatalf("the schema of %s changed, but not its version (%d): give %s a new Version() (its tables are then rebuilt from the log at start-up) and record its schema as %d: %q",
			p.Name(), p.Version(), p.Name(), p.Version()+1, got)
	}
}
