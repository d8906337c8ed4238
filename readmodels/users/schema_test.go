package users_test

import (
	"testing"

	"inkwell/projections/projectionstest"
	"inkwell/readmodels/users"
)

// schemas are the fingerprints of this read model's schema (schema.sql),
// one per version: a change of the schema is a new version (see
// projectionstest.CheckSchemaVersion).
var schemas = map[int]string{
	3: "c70a605d6653586134e040412882648e2e318daee019a88175e688664f2090c2", // version 3 changed Apply alone (the ledger of erasures)
}

func TestSchemaChangesWithItsVersion(t *testing.T) {
	t.Parallel()
	projectionstest.CheckSchemaVersion(t, users.ReadModel{}, schemas)
}
