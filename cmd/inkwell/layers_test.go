package main_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// layers places every package of the module (its directory) in a layer, as
// docs/architecture.md draws them.
var layers = map[string]int{
	"domain": 0, "logging": 0, "metrics": 0, "migrations": 0, "testkit": 0,
	"commands": 1, "queries": 1, "eventstore": 1, "eventstore/memstore": 1, "eventstore/storetest": 1, "auth": 1,
	"projections": 2, "eventstore/eventstoretest": 2,
	"readmodels": 3, "projections/projectionstest": 3,
	"readmodels/articles": 4, "readmodels/users": 4, "readmodels/personal": 4, "readmodels/comments": 4, "readmodels/follows": 4,
	"api": 5, "api/mock": 5, "reactors": 5, "djangoimport": 5,
	"cmd/inkwell": 6, "cmd/eventdoc": 6, "cmd/inkwell-bench": 6, "faults": 6,
}

// never are the imports the picture in docs/architecture.md rules out even
// where the layers would let them: a package (or every package below a
// path ending in "/...") never imports another. The write side decides
// against the log alone; the read side never reads the log nor decides;
// the HTTP surface reaches the read models only through their queries,
// never the engine that keeps them; production code never leans on what
// exists for tests.
var never = []struct{ from, to, why string }{
	{"projections", "commands", "the engine applies events; it decides nothing"},
	{"projections", "queries", "the engine applies events; it asks nothing of aggregates"},
	{"projections", "auth", "the engine applies events; it knows no keys nor tokens"},
	{"readmodels/...", "eventstore", "a read model is given events by the engine; it never reads the log"},
	{"readmodels/...", "commands", "a read model never decides"},
	{"readmodels/...", "queries", "a read model never asks the aggregates"},
	{"readmodels/...", "auth", "a read model holds no secret"},
	{"api", "projections", "the API reads the read models' queries, never the engine that keeps them"},
	{"api", "migrations", "the API knows no schema"},
	{"reactors", "projections", "a reactor issues commands; it reaches the read models through the small ports it declares"},
	{"reactors", "readmodels/...", "a reactor declares the ports it needs of a read model"},
	{"reactors", "api", "a reactor issues commands, not requests"},
}

// testOnly are the packages that exist for tests: fakes, fixtures and
// harnesses. No production package imports them.
var testOnly = []string{"eventstore/memstore", "eventstore/storetest", "eventstore/eventstoretest", "projections/projectionstest", "api/mock", "testkit", "faults"}

// production are the packages that make up the server and its tools.
func production(pkg string) bool {
	return pkg != "cmd/inkwell-bench" && !slices.Contains(testOnly, pkg)
}

// under reports whether pkg is pattern, or below it when pattern ends in
// "/...".
func under(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// Each package imports only packages of layers below its own (code, not
// tests): nothing imports upwards or sideways, and the domain is at the
// bottom. A package the table does not place fails the test, so that the
// picture in docs/architecture.md stays the house.
func TestPackagesImportOnlyLayersBelow(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		layer, placed := layers[pkg]
		if !placed {
			t.Errorf("package %s is in no layer (see layers and docs/architecture.md)", pkg)
			return nil
		}
		seen[pkg] = true
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			dep, ok := strings.CutPrefix(p, "inkwell/")
			if !ok {
				continue
			}
			if l, known := layers[dep]; !known || l >= layer {
				t.Errorf("%s (layer %d) imports %s (layer %d): only layers below may be imported", rel+"/"+filepath.Base(path), layer, dep, l)
			}
			for _, n := range never {
				if under(n.from, pkg) && under(n.to, dep) {
					t.Errorf("%s imports %s, which %s never does: %s", rel+"/"+filepath.Base(path), dep, n.from, n.why)
				}
			}
			if production(pkg) && slices.Contains(testOnly, dep) {
				t.Errorf("%s imports %s, which exists for tests: production code never does", rel+"/"+filepath.Base(path), dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range layers {
		if !seen[pkg] {
			t.Errorf("layers places %s, which has no code", pkg)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "docs", "architecture.md")); err != nil {
		t.Fatal(err)
	}
}
