package main_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"inkwell/auth"
	"inkwell/testkit"
)

// A master key file removed or replaced while a server runs is noticed at
// once (logged at error level, saying what to do, and exported as
// inkwell_master_key_file_ok 0), not at the next start, when every instance
// of a rolling restart would refuse to start; put back, it is said too.
func TestMasterKeyFileChangedWhileRunning(t *testing.T) {
	t.Parallel()
	s, logs := startServerLogs(t, slog.LevelInfo)
	path := filepath.Join(s.Config.DataDir, auth.MasterKeyFile)
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	metric := func() string {
		for _, line := range strings.Split(string(expect(t, s.request(t, "GET", "/metrics", "", nil), 200).Body), "\n") {
			if strings.HasPrefix(line, "inkwell_master_key_file_ok ") {
				return strings.TrimPrefix(line, "inkwell_master_key_file_ok ")
			}
		}
		return "(absent)"
	}
	if got := metric(); got != "1" {
		t.Fatalf("inkwell_master_key_file_ok is %s at start, want 1", got)
	}

	replacement, _ := os.ReadFile(newMasterKeyFile(t))
	for _, c := range []struct {
		what, said string
		change     func() error
	}{
		{"replaced by another key", "holds another key", func() error { return os.WriteFile(path, replacement, 0o600) }},
		{"removed", "is gone", func() error { return os.Remove(path) }},
	} {
		if err := c.change(); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, time.Minute, "the server to say the master key file "+c.said, func() bool {
			return strings.Contains(logs.String(), "the master key file "+c.said) && metric() == "0"
		})
		if err := os.WriteFile(path, original, 0o600); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, time.Minute, "the server to see the master key file right again, after it was "+c.what, func() bool {
			return metric() == "1"
		})
	}
	if !strings.Contains(logs.String(), "holds this instance's master key again") {
		t.Errorf("the file put back was not said:\n%s", logs.String())
	}
}
