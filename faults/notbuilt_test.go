//go:build !heavy

package faults_test

import (
	"os"
	"testing"

	"inkwell/testkit"
)

// Every test of the fault suite is built with -tags heavy: without it, this
// package says so rather than "no test files".
func TestMain(m *testing.M) {
	testkit.NotBuilt("the fault suite (faults injected under a write load, the cluster scenario)", "go test -tags heavy ./faults -v")
	os.Exit(testkit.Main(m, "inkwell/faults"))
}
