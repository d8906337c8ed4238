package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"inkwell/logging"
)

func TestEveryLineOfARequestCarriesItsID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := logging.Logger(logging.Logger(slog.New(slog.NewJSONHandler(&buf, nil)))) // twice: added once
	ctx := logging.WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "plain")
	log.With("component", "x").WarnContext(ctx, "with attrs")
	log.ErrorContext(ctx, "already named", logging.RequestIDKey, "req-1")
	log.Info("outside any request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		want := "req-1"
		if i == 3 {
			want = ""
		}
		if got, _ := m[logging.RequestIDKey].(string); got != want {
			t.Errorf("line %d: request_id %q, want %q: %s", i, got, want, line)
		}
		if n := strings.Count(line, `"request_id"`); n > 1 {
			t.Errorf("line %d: request_id %d times: %s", i, n, line)
		}
	}
}
