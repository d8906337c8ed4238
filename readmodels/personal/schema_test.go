package personal_test

import (
	"testing"

	"inkwell/projections/projectionstest"
	"inkwell/readmodels/personal"
)

// schemas are the fingerprints of this read model's schema (schema.sql),
// one per version: a change of the schema is a new version (see
// projectionstest.CheckSchemaVersion).
var schemas = map[int]string{
	1: "d6d27da32b4fd8c24e54aada0ef33b594e5f32906b769c9ecf17d99c56d86db8",
}

func TestSchemaChangesWithItsVersion(t *testing.T) {
	t.Parallel()
	projectionstest.CheckSchemaVersion(t, personal.ReadModel{}, schemas)
}
