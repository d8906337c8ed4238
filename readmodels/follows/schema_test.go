package follows_test

import (
	"testing"

	"inkwell/projections/projectionstest"
	"inkwell/readmodels/follows"
)

// schemas are the fingerprints of this read model's schema (schema.sql),
// one per version (see projectionstest.CheckSchemaVersion).
var schemas = map[int]string{
	1: "a83c4785328f85942459d4c2d465e893e9ca3dd7023b013485c90f1b7c054d53",
}

func TestSchemaChangesWithItsVersion(t *testing.T) {
	t.Parallel()
	projectionstest.CheckSchemaVersion(t, follows.ReadModel{}, schemas)
}
