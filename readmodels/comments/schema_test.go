package comments_test

import (
	"testing"

	"inkwell/projections/projectionstest"
	"inkwell/readmodels/comments"
)

// schemas are the fingerprints of this read model's schema (schema.sql),
// one per version: a change of the schema is a new version (see
// projectionstest.CheckSchemaVersion).
var schemas = map[int]string{
	1: "91c892e77ae3cc7283f663e4abe61c67417feef2b1ed4ef7108581a1f831e777",
	2: "6ddfdc5b7b32b0429924f7f2c1f3ffa1539f33e59383fad9107dd51fba70c1f5",
}

func TestSchemaChangesWithItsVersion(t *testing.T) {
	t.Parallel()
	projectionstest.CheckSchemaVersion(t, comments.ReadModel{}, schemas)
}
