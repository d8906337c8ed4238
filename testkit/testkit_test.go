package testkit_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"inkwell/testkit"
)

// A test that would skip for want of something fails instead when
// INKWELL_TEST_REQUIRE_ALL is set, naming what it needs; without it, it
// skips. The test runs this test binary again on the test that skips.
func TestSkipFailsWhenEverythingIsRequired(t *testing.T) {
	if os.Getenv("TESTKIT_SKIPPER") != "" {
		testkit.Skip(t, "INKWELL_TEST_EXAMPLE", "set it to something")
		return
	}
	for _, require := range []bool{false, true} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipFailsWhenEverythingIsRequired$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTKIT_SKIPPER=1", testkit.RequireAll+"=")
		if require {
			cmd.Env = append(cmd.Env, testkit.RequireAll+"=1")
		}
		out, err := cmd.CombinedOutput()
		switch {
		case !require && (err != nil || !strings.Contains(string(out), "--- SKIP") || !strings.Contains(string(out), "1 without INKWELL_TEST_EXAMPLE")):
			t.Errorf("without %s: %v\n%s", testkit.RequireAll, err, out)
		case require && (err == nil || !strings.Contains(string(out), "--- FAIL") || !strings.Contains(string(out), "this test needs INKWELL_TEST_EXAMPLE: set it to something")):
			t.Errorf("with %s: %v\n%s", testkit.RequireAll, err, out)
		}
	}
}

func TestMain(m *testing.M) { os.Exit(testkit.Main(m, "inkwell/testkit")) }
