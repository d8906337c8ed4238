package main_test

import (
	"os"
	"testing"

	"inkwell/testkit"
)

// heavyTests is set by heavy_test.go, which is built with -tags heavy.
var heavyTests bool

func TestMain(m *testing.M) {
	if !heavyTests {
		testkit.NotBuilt("heavy fault tests (a full disk, the database down, a slow client)", "go test -tags heavy ./...")
	}
	// The end-to-end tests mostly wait: on the servers they start, NATS,
	// the databases and the disk.
	testkit.Parallel(4)
	code := testkit.Main(m, "inkwell/cmd/inkwell")
	if dir, ok := cliBinaryDir.Load().(string); ok {
		os.RemoveAll(dir)
	}
	if keysMade.Load() {
		if dir, err := testKeys(); err == nil {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}
