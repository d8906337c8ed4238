package main_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// An aggregate type is registered in one place, the catalogue of package
// domain (domain/catalog.go): whatever lists aggregate types (the event
// stream's filter, the reference of the events, the read models that follow
// every aggregate) derives the list from it. This test reads every
// production file outside domain and fails on a list of two or more
// domain.Aggregate... constants (a composite literal or a switch case): a
// copy that a new aggregate would have to be added to. A reader's
// AggregateTypes (a method, or the field of a read model's description),
// which names what that one reader follows, is not a copy of the catalogue.
func TestAggregateTypesAreListedOnlyInTheCatalogue(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	var files int
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../..", path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "domain" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files++
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv != nil && fn.Name.Name == "AggregateTypes" {
				continue
			}
			ast.Inspect(decl, func(n ast.Node) bool {
				var elems []ast.Expr
				switch n := n.(type) {
				case *ast.KeyValueExpr:
					if key, ok := n.Key.(*ast.Ident); ok && key.Name == "AggregateTypes" {
						return false // what this reader follows
					}
					return true
				case *ast.CompositeLit:
					elems = n.Elts
				case *ast.CaseClause:
					elems = n.List
				default:
					return true
				}
				if aggregateConstants(elems) >= 2 {
					t.Errorf("%s lists aggregate types by hand: derive the list from domain.Aggregates() or domain.AggregateTypes()", fset.Position(n.Pos()))
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read %d production files; the walk missed the module", files)
	}
}

// aggregateConstants counts the expressions of elems that are
// domain.Aggregate<Name>.
func aggregateConstants(elems []ast.Expr) int {
	n := 0
	for _, e := range elems {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			continue
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == "domain" && strings.HasPrefix(sel.Sel.Name, "Aggregate") && sel.Sel.Name != "AggregateTypes" {
			n++
		}
	}
	return n
}
