package readmodels_test

import (
	"testing"

	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/personal"
	"inkwell/readmodels/users"
)

// schemas are the fingerprints of each read model's schema (its
// schema.sql), one per version: a change of a schema is a new version (see
// projectionstest.CheckSchemaVersion).
var schemas = []struct {
	readModel projections.Projection
	versions  map[int]string
}{
	{articles.ReadModel{}, map[int]string{
		2: "1120df52ce124d6fc7a89e299a04c34130ef36cbf2edcc215df54ca1137a92cf",
		3: "91dffec840bcb4e68687490693004872bcd35e37ec0a69144535211fad0496f6",
		4: "d869831612ea3cc286a3c5af367415878cbeaae28e1c5de766bee3dec766a458", // small tables WITHOUT ROWID on SQLite
	}},
	{comments.ReadModel{}, map[int]string{
		1: "91c892e77ae3cc7283f663e4abe61c67417feef2b1ed4ef7108581a1f831e777",
		2: "6ddfdc5b7b32b0429924f7f2c1f3ffa1539f33e59383fad9107dd51fba70c1f5",
		3: "1c2e91401eecbd88667aebdc305dd75f704eaf98c95ae52b090493c7d4332259", // small tables WITHOUT ROWID on SQLite
	}},
	{follows.ReadModel{}, map[int]string{
		1: "a83c4785328f85942459d4c2d465e893e9ca3dd7023b013485c90f1b7c054d53",
		2: "fb85cd37345c6c732370d3a4f7104d4256defebe654b813569bbe697eb7eb10c",
		3: "7e3115345c7f8c0929164d6122bb874a8e1c59ece8e042a41a11bc67dd37afc5", // small tables WITHOUT ROWID on SQLite; the feed keyed in its pages' order
	}},
	{personal.ReadModel{}, map[int]string{
		1: "d6d27da32b4fd8c24e54aada0ef33b594e5f32906b769c9ecf17d99c56d86db8",
		2: "0b8b17b6db70942240bc6f86473e5e7397b4a28e2fd9baa878ad38023116a28a", // user_events WITHOUT ROWID on SQLite
	}},
	{users.ReadModel{}, map[int]string{
		3: "c70a605d6653586134e040412882648e2e318daee019a88175e688664f2090c2", // version 3 changed Apply alone (the ledger of erasures)
	}},
}

func TestSchemaChangesWithItsVersion(t *testing.T) {
	t.Parallel()
	for _, s := range schemas {
		t.Run(s.readModel.Name(), func(t *testing.T) {
			t.Parallel()
			projectionstest.CheckSchemaVersion(t, s.readModel, s.versions)
		})
	}
}
