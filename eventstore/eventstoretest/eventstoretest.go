// Package eventstoretest starts event logs for tests: an embedded NATS server
// in a temporary directory, or the external server named by
// INKWELL_TEST_NATS_URL.
package eventstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/auth"
	"inkwell/domain"
	"inkwell/eventstore"
)

// Embedded is an embedded NATS server started for a test.
type Embedded struct {
	Server *server.Server
	Dir    string
	Token  string
}

// MustStartEmbedded starts an embedded NATS server storing into dir (a new
// temporary directory when dir is ""). It is shut down when the test ends.
func MustStartEmbedded(tb testing.TB, dir string) *Embedded {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	token := RandomName()
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{StoreDir: dir, DontListen: true, Token: token})
	if err != nil {
		tb.Fatalf("start embedded nats: %v", err)
	}
	tb.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return &Embedded{Server: ns, Dir: dir, Token: token}
}

// MustStartListening starts an embedded NATS server in a temporary
// directory that listens on a free port of 127.0.0.1, for tests that reach
// it over TCP (through a fault proxy, say). It returns the server's address
// and token; the server is shut down when the test ends.
func MustStartListening(tb testing.TB) (addr, token string) {
	tb.Helper()
	token = RandomName()
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{StoreDir: tb.TempDir(), Host: "127.0.0.1", Port: -1, Token: token})
	if err != nil {
		tb.Fatalf("start nats: %v", err)
	}
	tb.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.Addr().String(), token
}

// MustStartWithMaxPayload starts a NATS server with JetStream in a
// temporary directory, listening on a free port of 127.0.0.1, whose clients
// publish messages of at most maxPayload bytes (its max_payload), as an
// external server configured so would. It returns the server's URL, token
// included; the server is shut down when the test ends.
func MustStartWithMaxPayload(tb testing.TB, maxPayload int32) string {
	tb.Helper()
	token := RandomName()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: tb.TempDir(),
		Authorization: token, NoSigs: true, MaxPayload: maxPayload, JetStreamMaxStore: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	ns.Start()
	tb.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(time.Minute) {
		tb.Fatal("nats server not ready")
	}
	return "nats://" + token + "@" + ns.Addr().String()
}

// Connect returns a new in-process connection to the server.
func (e *Embedded) Connect(tb testing.TB) *nats.Conn {
	tb.Helper()
	nc, err := eventstore.ConnectEmbedded(e.Server, e.Token)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// MustOpen starts an embedded server in a temporary directory and opens a
// store on it.
func MustOpen(tb testing.TB) *eventstore.Store {
	tb.Helper()
	e := MustStartEmbedded(tb, "")
	return MustOpenOn(tb, e.Connect(tb), eventstore.Config{})
}

// MustOpenOn opens a store on an existing connection, sealing personal data
// with data keys wrapped by a master key of the test's own.
func MustOpenOn(tb testing.TB, nc *nats.Conn, cfg eventstore.Config) *eventstore.Store {
	tb.Helper()
	return MustOpenWithMaster(tb, nc, cfg, NewMasterKey(tb))
}

// MustOpenWithMaster is MustOpenOn with the master key master: stores of
// one log (instances of one deployment) share theirs.
func MustOpenWithMaster(tb testing.TB, nc *nats.Conn, cfg eventstore.Config, master *auth.MasterKey) *eventstore.Store {
	tb.Helper()
	s, err := eventstore.Open(context.Background(), nc, cfg)
	if err != nil {
		tb.Fatalf("open event store: %v", err)
	}
	s.UsePersonalData(MustOpenDataKeys(tb, s, master), master.Derive("claims"))
	return s
}

// NewMasterKey returns a random master key.
func NewMasterKey(tb testing.TB) *auth.MasterKey {
	tb.Helper()
	m, err := auth.NewMasterKey([]byte(RandomName() + RandomName() + RandomName() + RandomName())[:32])
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// MustOpenDataKeys opens the data keys of s, wrapped by master, following
// the bucket until the test ends.
func MustOpenDataKeys(tb testing.TB, s *eventstore.Store, master eventstore.KeyWrapper) *eventstore.Keyring {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	keys, err := s.OpenDataKeys(ctx, master, 0)
	if err != nil {
		tb.Fatalf("open data keys: %v", err)
	}
	return keys
}

// ExternalURL returns the URL of a NATS server that Inkwell reaches over the
// network: INKWELL_TEST_NATS_URL (a server of another build, as .ci/run
// starts), or else a server of this build started for the test on a port
// of its own.
func ExternalURL(tb testing.TB) string {
	tb.Helper()
	if url := os.Getenv("INKWELL_TEST_NATS_URL"); url != "" {
		return url
	}
	addr, token := MustStartListening(tb)
	return "nats://" + token + "@" + addr
}

// MustOpenExternal opens a store on the external test server with a stream
// and subject prefix of its own, deleted when the test ends.
func MustOpenExternal(tb testing.TB) *eventstore.Store {
	tb.Helper()
	nc := MustConnect(tb, ExternalURL(tb))
	name := "T" + RandomName()
	s := MustOpenOn(tb, nc, eventstore.Config{StreamName: name, SubjectPrefix: "test." + name})
	tb.Cleanup(func() {
		// The stream denies deletes and purges of messages, not its own
		// removal; its buckets go with it.
		streams, _ := eventstore.Replicas(context.Background(), nc, name)
		for _, st := range streams {
			_ = s.JetStream().DeleteStream(context.Background(), st.Name)
		}
	})
	return s
}

// MustConnect connects to the NATS server at url as Inkwell does, with
// opts, and closes the connection when the test ends.
func MustConnect(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := eventstore.Connect(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// MustRead reads the log of s from the sequence from (of the subjects
// given, or all) to its end.
func MustRead(tb testing.TB, s *eventstore.Store, from uint64, subjects ...string) []domain.Record {
	tb.Helper()
	ctx := context.Background()
	cur, err := s.Read(ctx, from, subjects...)
	if err != nil {
		tb.Fatal(err)
	}
	defer cur.Close()
	var out []domain.Record
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			tb.Fatal(err)
		}
		out = append(out, rec)
	}
}

// DeleteStreams removes the log named stream on the server at url, and the
// streams of its buckets and dead letters, from a test's cleanup.
func DeleteStreams(tb testing.TB, url, stream string) {
	nc, err := eventstore.Connect(url)
	if err != nil {
		tb.Errorf("delete the streams of %s: %v", stream, err)
		return
	}
	defer nc.Close()
	ctx := context.Background()
	streams, err := eventstore.Replicas(ctx, nc, stream)
	if err != nil {
		tb.Errorf("list the streams of %s: %v", stream, err)
		return
	}
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Error(err)
		return
	}
	for _, st := range streams {
		if err := js.DeleteStream(ctx, st.Name); err != nil {
			tb.Errorf("delete stream %s: %v", st.Name, err)
		}
	}
}

// RandomName returns 16 random hex characters.
func RandomName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
