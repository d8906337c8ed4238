package articles_test

import (
	"testing"

	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
)

// schemas are the fingerprints of this read model's schema (schema.sql),
// one per version: a change of the schema is a new version (see
// projectionstest.CheckSchemaVersion).
var schemas = map[int]string{
	2: "1120df52ce124d6fc7a89e299a04c34130ef36cbf2edcc215df54ca1137a92cf",
	3: "91dffec840bcb4e68687490693004872bcd35e37ec0a69144535211fad0496f6",
}

func TestSchemaChangesWithItsVersion(t *testing.T) {
	t.Parallel()
	projectionstest.CheckSchemaVersion(t, articles.ReadModel{}, schemas)
}
