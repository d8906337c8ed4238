package readmodels

// Description is what a read model tells the projection engine of itself
// beside its Apply: its name, the version of its tables (a new version
// rebuilds them from the log), their names, the schema that creates them
// and the aggregates whose events it reads.
type Description struct {
	Name           string
	Version        int
	Tables         []string
	Schema         string
	AggregateTypes []string
}

// Describer is a read model's description, given by its type without any
// state (so that the read model's zero value is ready to use).
type Describer interface{ Describe() Description }

// Described gives a read model that embeds it the methods of
// projections.Projection its description answers: a read model is
//
//	type ReadModel struct{ readmodels.Described[ReadModel] }
//
// with ReadModel's Describe saying its name, version, tables, schema and
// aggregates, and ReadModel adding Apply.
type Described[D Describer] struct{}

// Name implements projections.Projection.
func (Described[D]) Name() string { return describe[D]().Name }

// Version implements projections.Projection.
func (Described[D]) Version() int { return describe[D]().Version }

// Tables implements projections.Projection.
func (Described[D]) Tables() []string { return describe[D]().Tables }

// Schema implements projections.Projection.
func (Described[D]) Schema() string { return describe[D]().Schema }

// AggregateTypes implements projections.Projection.
func (Described[D]) AggregateTypes() []string { return describe[D]().AggregateTypes }

func describe[D Describer]() Description {
	var d D
	return d.Describe()
}
