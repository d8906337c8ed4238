package domain_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The domain is pure: its code imports the standard library only (no I/O
// packages either), so that infrastructure depends on it and never the
// reverse.
func TestDomainImportsNoInfrastructure(t *testing.T) {
	t.Parallel()
	forbidden := []string{"net/http", "database/sql", "os", "os/exec", "io/fs", "net", "syscall"}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(".", name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") || path == "inkwell" || strings.HasPrefix(path, "inkwell/") {
				t.Errorf("%s imports %s: the domain imports the standard library only", name, path)
			}
			for _, bad := range forbidden {
				if path == bad {
					t.Errorf("%s imports %s: the domain does no I/O", name, path)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no domain files checked")
	}
}
