package eventstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/eventstore/storetest"
)

func taken(owner string) domain.Event {
	return &domain.ClaimTaken{Owner: domain.StreamIDJSON{Type: "user", ID: owner}, TakenAt: time.Unix(1700000000, 0).UTC()}
}

func stream(id string) domain.StreamID { return domain.StreamID{Type: "claim", ID: id} }

// storeContract runs the behaviour the JetStream log has beyond the
// commands' port (storetest.Contract), on any server.
func storeContract(t *testing.T, open func(t *testing.T) *eventstore.Store) {
	ctx := context.Background()

	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("LoadEachAgreesWithLoad/batched=%t", batched), func(t *testing.T) {
			s := open(t)
			if !batched {
				eventstore.WithoutBatchedGet(s)
			}
			first, err := s.Append(ctx, stream("each-a"), domain.Position{}, domain.Meta{}, taken("1"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, stream("each-a"), domain.Position{Seq: first[0].Seq, Version: 1}, domain.Meta{}, taken("2")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, stream("each-b"), domain.Position{}, domain.Meta{}, taken("3")); err != nil {
				t.Fatal(err)
			}
			ids := []domain.StreamID{stream("each-b"), stream("each-none"), stream("each-a")}
			recs, poss, err := s.LoadEach(ctx, ids...)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(ids) || len(poss) != len(ids) {
				t.Fatalf("LoadEach of %d streams returned %d and %d", len(ids), len(recs), len(poss))
			}
			for i, id := range ids {
				want, wantPos, err := s.Load(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if poss[i] != wantPos || len(recs[i]) != len(want) {
					t.Fatalf("%s: LoadEach gives %d events at %+v, Load %d at %+v", id, len(recs[i]), poss[i], len(want), wantPos)
				}
				for j := range want {
					if recs[i][j].ID != want[j].ID || recs[i][j].Seq != want[j].Seq {
						t.Fatalf("%s event %d: LoadEach %+v, Load %+v", id, j, recs[i][j], want[j])
					}
				}
			}
			if n := len(recs[0]) + len(recs[1]) + len(recs[2]); n != 3 {
				t.Fatalf("LoadEach found %d events, want 3", n)
			}
			if _, _, err := s.LoadEach(ctx, stream("each-a"), stream("bad id")); !errors.Is(err, eventstore.ErrBadStreamID) {
				t.Fatalf("LoadEach with a bad stream id: %v", err)
			}
			if eventstore.UsesBatchedGet(s) != batched {
				t.Fatalf("the store uses the batched get: %t, want %t", eventstore.UsesBatchedGet(s), batched)
			}
		})
	}

	t.Run("FollowReadsEachEventOnceInOrder", func(t *testing.T) {
		s := open(t)
		const n = 300
		pos := map[string]domain.Position{}
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("f%d", i%7)
			recs, err := s.Append(ctx, stream(id), pos[id], domain.Meta{}, taken(fmt.Sprint(i)))
			if err != nil {
				t.Fatal(err)
			}
			pos[id] = domain.Position{Seq: recs[0].Seq, Version: recs[0].Version}
		}
		cur, err := s.Follow(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer cur.Close()
		seen := map[string]bool{}
		var last uint64
		for i := 0; i < n; i++ {
			tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			r, err := cur.Next(tctx)
			cancel()
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if r.Seq <= last {
				t.Fatalf("sequence %d after %d", r.Seq, last)
			}
			if seen[r.ID] {
				t.Fatalf("event %s delivered twice", r.ID)
			}
			seen[r.ID], last = true, r.Seq
		}
		if _, ok, _ := cur.TryNext(); ok {
			t.Fatal("more events than appended")
		}
		// Following from the middle starts exactly there.
		cur2, err := s.Follow(ctx, last-9)
		if err != nil {
			t.Fatal(err)
		}
		defer cur2.Close()
		r, err := cur2.Next(ctx)
		if err != nil || r.Seq != last-9 {
			t.Fatalf("follow from %d started at %d (%v)", last-9, r.Seq, err)
		}
	})

	t.Run("FollowFiltersByAggregateType", func(t *testing.T) {
		s := open(t)
		if _, err := s.Append(ctx, domain.StreamID{Type: "user", ID: "u"}, domain.Position{}, domain.Meta{}, &domain.CreationAbandoned{Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, stream("k"), domain.Position{}, domain.Meta{}, taken("k")); err != nil {
			t.Fatal(err)
		}
		cur, err := s.Follow(ctx, 1, s.SubjectsOf("claim")...)
		if err != nil {
			t.Fatal(err)
		}
		defer cur.Close()
		r, err := cur.Next(ctx)
		if err != nil || r.Stream.Type != "claim" {
			t.Fatalf("got %+v, %v", r, err)
		}
	})

	t.Run("DuplicatePublishIsStoredOnce", func(t *testing.T) {
		s := open(t)
		subj, _ := s.Subject(stream("dup"))
		pub := eventstore.NewPublisher(s.JetStream(), 0)
		for i := 0; i < 2; i++ {
			m := message.NewMessage("0190f3f5-0000-7000-8000-000000000001", []byte(`{}`))
			m.Metadata.Set(eventstore.HeaderEventType, "claim.released")
			if err := pub.Publish(subj, m); err != nil {
				t.Fatal(err)
			}
			if i == 1 && m.Metadata.Get(eventstore.MetadataDuplicate) != "true" {
				t.Fatal("second publish of one id was not reported as a duplicate")
			}
		}
		head, err := s.Head(ctx)
		if err != nil || head != 1 {
			t.Fatalf("head %d (%v), want 1 message", head, err)
		}
	})

	t.Run("DeletesAndPurgesAreDenied", func(t *testing.T) {
		s := open(t)
		recs, err := s.Append(ctx, stream("imm"), domain.Position{}, domain.Meta{}, taken("x"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.JetStream().Stream(ctx, s.StreamName())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteMsg(ctx, recs[0].Seq); err == nil {
			t.Fatal("deleting an event succeeded")
		}
		if err := st.Purge(ctx); err == nil {
			t.Fatal("purging the log succeeded")
		}
		if got, _, _ := s.Load(ctx, stream("imm")); len(got) != 1 {
			t.Fatal("event gone")
		}
	})

}

func TestEmbeddedStore(t *testing.T) {
	t.Parallel()
	open := func(t *testing.T) *eventstore.Store { return eventstoretest.MustOpen(t) }
	storetest.Contract(t, func(t *testing.T) storetest.Port { return open(t) })
	storeContract(t, open)
}

func TestExternalStore(t *testing.T) {
	eventstoretest.ExternalURL(t)
	t.Parallel()
	open := func(t *testing.T) *eventstore.Store { return eventstoretest.MustOpenExternal(t) }
	storetest.Contract(t, func(t *testing.T) storetest.Port { return open(t) })
	storeContract(t, open)
}

func TestLogSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()

	e := eventstoretest.MustStartEmbedded(t, dir)
	s := eventstoretest.MustOpenOn(t, e.Connect(t), eventstore.Config{})
	var want []string
	pos := domain.Position{}
	for i := 0; i < 10; i++ {
		recs, err := s.Append(ctx, stream("durable"), pos, domain.Meta{}, taken(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		pos = domain.Position{Seq: recs[0].Seq, Version: recs[0].Version}
		want = append(want, recs[0].ID)
	}
	e.Server.Shutdown()
	e.Server.WaitForShutdown()

	e2 := eventstoretest.MustStartEmbedded(t, dir)
	s2 := eventstoretest.MustOpenOn(t, e2.Connect(t), eventstore.Config{})
	got, _, err := s2.Load(ctx, stream("durable"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("after restart %d events, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.ID != want[i] {
			t.Fatalf("event %d is %s, want %s", i, r.ID, want[i])
		}
	}
	// The stream's position carried over too: a stale writer still conflicts.
	if _, err := s2.Append(ctx, stream("durable"), domain.Position{}, domain.Meta{}, taken("late")); !errors.Is(err, domain.ErrConcurrentChange) {
		t.Fatalf("stale append after restart: %v", err)
	}
}

// A NATS server older than 2.10 is refused with a message saying why:
// INKWELL_TEST_OLD_NATS_URL names a real one (.ci/run uses the machine's
// 2.9); without it, a stand-in that greets as NATS 2.9.0 does.
func TestUnsupportedServerIsRefusedClearly(t *testing.T) {
	url := os.Getenv("INKWELL_TEST_OLD_NATS_URL")
	if url == "" {
		url = oldServerStandIn(t, "2.9.0")
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	err = eventstore.CheckServer(context.Background(), nc)
	if err == nil || !strings.Contains(err.Error(), "not supported") || !strings.Contains(err.Error(), eventstore.MinServerVersion) {
		t.Fatalf("CheckServer on %s: %v", nc.ConnectedServerVersion(), err)
	}
}

func TestJetStreamDisabledIsRefusedClearly(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{DontListen: true, JetStream: false, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := eventstore.ConnectEmbedded(ns, "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = eventstore.CheckServer(ctx, nc)
	if err == nil || !strings.Contains(err.Error(), "JetStream") {
		t.Fatalf("CheckServer without JetStream: %v", err)
	}
}

// oldServerStandIn listens on a free port and speaks just enough of the NATS
// protocol, as a server of the given version, for a client to connect: its
// greeting (INFO) and PONG to every PING. It returns the server's URL.
func oldServerStandIn(t *testing.T, version string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "INFO {\"server_id\":\"stand-in\",\"version\":%q,\"go\":\"go1.19\",\"host\":\"127.0.0.1\",\"port\":%d,\"max_payload\":1048576,\"proto\":1,\"headers\":true}\r\n", version, port)
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "PING") {
						fmt.Fprint(c, "PONG\r\n")
					}
				}
			}()
		}
	}()
	return fmt.Sprintf("nats://127.0.0.1:%d", port)
}

// A log whose stream keeps another number of copies than configured is
// refused at start-up, naming both numbers and the way to change them;
// Replicas lists the log and the streams of its buckets.
func TestReplicasThatDoNotMatchAreRefused(t *testing.T) {
	t.Parallel()
	e := eventstoretest.MustStartEmbedded(t, "")
	nc := e.Connect(t)
	s := eventstoretest.MustOpenOn(t, nc, eventstore.Config{})
	if _, err := s.OpenIdempotency(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := eventstore.Open(context.Background(), nc, eventstore.Config{Replicas: 3})
	var mismatch *eventstore.ReplicasMismatchError
	if !errors.As(err, &mismatch) || mismatch.Have != 1 || mismatch.Configured != 3 ||
		!strings.Contains(err.Error(), "inkwell events replicas --set 3") {
		t.Fatalf("opened a stream of 1 replica as 3: %v", err)
	}
	got, err := eventstore.Replicas(context.Background(), nc, s.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	want := []eventstore.StreamReplicas{{Name: "INKWELL", Replicas: 1}, {Name: "KV_INKWELL_DATAKEYS", Replicas: 1}, {Name: "KV_INKWELL_IDEMPOTENCY", Replicas: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replicas %v, want %v", got, want)
	}
	if changed, err := eventstore.ChangeReplicas(context.Background(), nc, s.StreamName(), 1); err != nil || len(changed) != 0 {
		t.Fatalf("no change asked, changed %v (%v)", changed, err)
	}
}

// An append the stream refused (a limit, a full disk) leaves the log
// unwritable until an event is stored or a look at the stream shows room
// again; one that no stream answered (a cluster electing the stream's
// leader) does not: whether the stream answers is asked of the stream.
// Either way an instance that takes no traffic while it is not ready does
// not stay unready once the cause is gone.
func TestOnlyTheStreamsRefusalsMakeTheLogUnwritable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := eventstoretest.MustOpen(t)
	js := s.JetStream()
	st, err := js.Stream(ctx, "INKWELL")
	if err != nil {
		t.Fatal(err)
	}
	was := st.CachedInfo().Config
	reconfigure := func(change func(c *jetstream.StreamConfig)) {
		t.Helper()
		c := was
		change(&c)
		if _, err := js.UpdateStream(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	pos := domain.Position{}
	appendOne := func(owner string) error {
		recs, err := s.Append(ctx, stream("writable"), pos, domain.Meta{}, taken(owner))
		if err == nil {
			pos = domain.Position{Seq: recs[0].Seq, Version: recs[0].Version}
		}
		return err
	}
	// refused changes the stream with change, appends, and checks that the
	// append failed and whether the log is writable after it.
	refused := func(what string, change func(c *jetstream.StreamConfig), writable bool) {
		t.Helper()
		reconfigure(change)
		if err := appendOne(what); !unavailable(err) {
			t.Fatalf("%s: %v, want unavailable", what, err)
		}
		checkWritable(t, s, what, writable)
	}
	// recheck looks at the stream with the hold given, then checks whether
	// the log is writable.
	recheck := func(what string, hold time.Duration, writable bool) {
		t.Helper()
		eventstore.SetRefusalHold(s, hold)
		if err := s.RecheckRefusal(ctx); err != nil {
			t.Fatal(err)
		}
		checkWritable(t, s, what, writable)
	}
	if err := appendOne("first"); err != nil {
		t.Fatal(err)
	}

	refused("no stream on the log's subjects", func(c *jetstream.StreamConfig) { c.Subjects = []string{"elsewhere.>"} }, true)
	refused("the stream full", func(c *jetstream.StreamConfig) { c.MaxMsgs, c.Discard = 1, jetstream.DiscardNew }, false)
	recheck("a look at the stream still full", 0, false)
	// The limit goes: a look at the stream, with no event stored, drops
	// the refusal once it is older than the hold.
	reconfigure(func(c *jetstream.StreamConfig) {})
	recheck("a look at the stream within the hold", time.Hour, false)
	recheck("a look at the stream no longer full", 0, true)
	if err := appendOne("after"); err != nil {
		t.Fatal(err)
	}

	eventstore.SetRefusalHold(s, time.Hour)
	reconfigure(func(c *jetstream.StreamConfig) { c.MaxMsgSize = 16 })
	if err := appendOne("too large"); domain.ErrorCode(err) != domain.ETOOLARGE {
		t.Fatalf("a message too large for the stream: %v, want %s", err, domain.ETOOLARGE)
	}
	checkWritable(t, s, "a message too large for the stream", true)
	// A refusal is forgotten when an event is stored, too.
	refused("the stream full again", func(c *jetstream.StreamConfig) { c.MaxMsgs, c.Discard = 2, jetstream.DiscardNew }, false)
	reconfigure(func(c *jetstream.StreamConfig) {})
	if err := appendOne("stored"); err != nil {
		t.Fatal(err)
	}
	checkWritable(t, s, "an event stored", true)
}

// checkWritable fails the test unless the log of s is writable (Writable)
// as want says, after what.
func checkWritable(t *testing.T, s *eventstore.Store, what string, want bool) {
	t.Helper()
	if err := s.Writable(); (err == nil) != want {
		t.Errorf("after %s: Writable() = %v, want writable %t", what, err, want)
	}
}

// unavailable reports whether err is an *domain.UnavailableError.
func unavailable(err error) bool {
	var u *domain.UnavailableError
	return errors.As(err, &u)
}
