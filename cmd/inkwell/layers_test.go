package main_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
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
	"api": 4, "api/mock": 4, "reactors": 4,
	"cmd/inkwell": 5, "cmd/eventdoc": 5, "cmd/inkwell-bench": 5, "faults": 5,
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
