package eventstore_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
)

// records sends every record logged to it on a channel.
type records chan slog.Record

func (r records) Enabled(context.Context, slog.Level) bool        { return true }
func (r records) Handle(_ context.Context, rec slog.Record) error { r <- rec; return nil }
func (r records) WithAttrs([]slog.Attr) slog.Handler              { return r }
func (r records) WithGroup(string) slog.Handler                   { return r }

// An error the connection meets outside a call (here a subscription that
// falls behind and loses messages) is said in Inkwell's log, with the
// subject it is about, not printed raw on standard error.
func TestConnectionErrorsGoToTheLog(t *testing.T) {
	e := eventstoretest.MustStartEmbedded(t, "")
	logged := make(records, 16)
	nc, err := eventstore.ConnectEmbedded(e.Server, e.Token, eventstore.ErrorsTo(slog.New(logged)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("inkwell.test.slow")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(1, -1); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := nc.Publish("inkwell.test.slow", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case rec := <-logged:
		var subject, msg string
		rec.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "subject":
				subject = a.Value.String()
			case "err":
				msg = a.Value.String()
			}
			return true
		})
		if rec.Level != slog.LevelWarn || subject != "inkwell.test.slow" || msg == "" {
			t.Fatalf("logged %q at %v: subject %q, err %q", rec.Message, rec.Level, subject, msg)
		}
	case <-time.After(time.Minute):
		t.Fatal("a subscription lost messages, and nothing was logged")
	}
}
