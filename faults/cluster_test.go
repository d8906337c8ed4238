//go:build heavy

package faults_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/projections/projectionstest"
	"inkwell/testkit"
)

// The cluster scenario runs Inkwell as it runs on several machines: three
// NATS servers in a JetStream cluster on loopback (the log and every bucket
// in three copies), two Inkwell instances on one PostgreSQL database, and a
// load that writes and reads through both (a write whose instance does not
// answer is sent again to the other, as a load balancer would). Step by
// step it kills a NATS node that does not lead the stream (the data keys'
// bucket's leader when that is another node), then the
// stream's leader, restarts both, kills an Inkwell instance and restarts
// it, and rotates the signing keys; after each step it checks, as the
// fault suite does, that no acknowledged write was lost or made twice, that
// the read model equals a rebuild, that no client saw a 500, and that a
// token issued before the first step still works on both instances. It
// prints a table (also written to artifacts/cluster.md).
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: the cluster scenario takes minutes; it runs without -short (as .ci/run does)")
	}
	_, live := projectionstest.MustOpenPostgresURL(t)
	c := newNATSCluster(t, 3)
	c.start(t)
	env := []string{"INKWELL_NATS_URL=" + c.urls(), "INKWELL_NATS_REPLICAS=3", "INKWELL_DATABASE_URL=" + live,
		"INKWELL_MASTER_KEY_PATH=" + filepath.Join(t.TempDir(), "master.key"), "INKWELL_LOG_LEVEL=info"}
	a := newInkwell(t, "inkwell-a", append(env, "INKWELL_DATA_DIR="+t.TempDir())...)
	b := newInkwell(t, "inkwell-b", append(env, "INKWELL_DATA_DIR="+t.TempDir())...)
	a.run("keys", "init")
	a.startServing()
	b.startServing()
	a.waitReady(readyBound)
	b.waitReady(readyBound)
	early := newLoad(t, "early", a.url, 1).workers[0].token
	c.readThroughLeaders(t)

	var table clusterTable
	step := func(name string, fault func(l *load)) {
		t.Helper()
		l := newLoad(t, name, a.url, workers, b.url)
		l.run()
		waitProgress(t, l, 20)
		fault(l)
		waitProgress(t, l, 30)
		l.finish()
		a.waitReady(readyBound)
		b.waitReady(readyBound)
		r := verify(t, name, a, l, live, true)
		for _, s := range []*inkwell{a, b} {
			if st, body := (&load{t: t, urls: []string{s.url}}).send("GET", "/api/auth/me/", early, "", ""); st != 200 {
				t.Errorf("%s: the token issued before the first step: %d %s", s.name, st, body)
			}
		}
		table.add(r)
	}
	defer table.print(t)

	step("kill -9 of a NATS node that does not lead the stream", func(l *load) {
		c.node(t, c.follower(t)).kill()
	})
	step("kill -9 of the stream leader (two of three nodes down), then restart of both", func(l *load) {
		c.node(t, c.leader(t)).kill()
		waitFailures(t, l, 3*time.Second)
		for _, n := range c.nodes {
			if n.cmd == nil {
				n.startServing()
			}
		}
		c.waitCurrent(t)
	})
	step("kill -9 of an Inkwell instance, and a restart", func(l *load) {
		b.kill()
		waitProgress(t, l, 20)
		b.startServing()
	})
	step("inkwell keys rotate under the load", func(l *load) {
		out := string(a.run("keys", "rotate", "--in", "2s"))
		if !strings.HasPrefix(out, "added ") {
			t.Fatalf("keys rotate: %s", out)
		}
		kid := strings.Fields(out)[1]
		for _, s := range []*inkwell{a, b} {
			testkit.WaitFor(t, time.Minute, s.name+" signing with the new key", func() bool {
				return loginKid(s.url, l.workers[0]) == kid
			})
		}
	})
}

// loginKid logs w in at the instance at url and returns the key id of its
// new access token ("" if the login fails).
func loginKid(url string, w *loadWorker) string {
	st, body := (&load{urls: []string{url}}).send("POST", "/api/auth/login/", "", "", fmt.Sprintf(`{"username": %q, "password": "password-%s"}`, w.user, w.user))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if st != 200 || json.Unmarshal(body, &tok) != nil {
		return ""
	}
	header, _, _ := strings.Cut(tok.AccessToken, ".")
	return kidOfHeader(header)
}

// clusterTable is the table of the cluster scenario.
type clusterTable struct {
	mu   sync.Mutex
	rows []row
}

func (ct *clusterTable) add(r row) {
	ct.mu.Lock()
	ct.rows = append(ct.rows, r)
	ct.mu.Unlock()
}

func (ct *clusterTable) print(t *testing.T) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintln(&b, "| step | writes acknowledged | of them comments / favorites / follows | lost | duplicated | 5xx (503s) | longest unavailability |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range ct.rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %d | %d (%d) | %.1f s |\n", r.fault, r.acked, r.social(), r.lost, r.dup, r.s500+r.s503, r.s503, r.stall.Seconds())
	}
	fmt.Printf("\nCLUSTER TABLE\n%s\n", b.String())
	if err := os.MkdirAll("../artifacts", 0o755); err == nil {
		_ = os.WriteFile("../artifacts/cluster.md", b.Bytes(), 0o644)
	}
	t.Logf("\n%s", b.String())
}

// natsCluster is a JetStream cluster of NATS servers on loopback, each a
// process of its own.
type natsCluster struct {
	nodes []*natsNode
}

type natsNode struct {
	*natsServer
	name string
}

func newNATSCluster(t *testing.T, n int) *natsCluster {
	c := &natsCluster{}
	routes := make([]int, n)
	for i := range routes {
		routes[i] = freePort(t)
	}
	for i := 0; i < n; i++ {
		var others []string
		for j, p := range routes {
			if j != i {
				others = append(others, "nats://127.0.0.1:"+strconv.Itoa(p))
			}
		}
		port := freePort(t)
		name := fmt.Sprintf("nats-%d", i+1)
		p := newProc(t, name, nil, bins.nats, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", t.TempDir(),
			"--name", name, "--cluster_name", "inkwell", "--cluster", "nats://127.0.0.1:"+strconv.Itoa(routes[i]),
			"--routes", strings.Join(others, ","))
		c.nodes = append(c.nodes, &natsNode{natsServer: &natsServer{proc: p, url: fmt.Sprintf("nats://127.0.0.1:%d", port)}, name: name})
	}
	return c
}

// urls is the cluster's client URLs, comma-separated.
func (c *natsCluster) urls() string {
	var us []string
	for _, n := range c.nodes {
		us = append(us, n.url)
	}
	return strings.Join(us, ",")
}

// start starts every node and waits until JetStream answers (the cluster
// has a meta leader).
func (c *natsCluster) start(t *testing.T) {
	t.Helper()
	for _, n := range c.nodes {
		n.startServing()
	}
	testkit.WaitFor(t, 2*time.Minute, "the JetStream cluster to form", func() bool {
		js, done := c.js(t)
		defer done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
}

func (c *natsCluster) js(t *testing.T) (jetstream.JetStream, func()) {
	t.Helper()
	nc, err := nats.Connect(c.urls(), nats.Timeout(2*time.Second), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js, nc.Close
}

// streamInfo returns the cluster's view of the event stream.
func (c *natsCluster) streamInfo(t *testing.T) *jetstream.ClusterInfo {
	t.Helper()
	return c.streamInfoOf(t, "INKWELL")
}

// streamInfoOf returns the cluster's view of the stream name.
func (c *natsCluster) streamInfoOf(t *testing.T, name string) *jetstream.ClusterInfo {
	t.Helper()
	js, done := c.js(t)
	defer done()
	var info *jetstream.StreamInfo
	testkit.WaitFor(t, 2*time.Minute, "the cluster info of "+name, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, name)
		if err != nil {
			return false
		}
		info, err = s.Info(ctx)
		return err == nil && info.Cluster != nil && info.Cluster.Leader != ""
	})
	return info.Cluster
}

// readThroughLeaders checks that the log and every bucket are in three
// copies and read through their leaders (no direct gets, which a replica
// catching up would answer with what it has).
func (c *natsCluster) readThroughLeaders(t *testing.T) {
	t.Helper()
	js, done := c.js(t)
	defer done()
	ctx := context.Background()
	names := js.StreamNames(ctx)
	n := 0
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		if cfg.Replicas != 3 || cfg.AllowDirect {
			t.Errorf("stream %s: %d replicas, direct gets %t; want 3 and none", name, cfg.Replicas, cfg.AllowDirect)
		}
		n++
	}
	if n < 4 { // the log, its dead letters, and the buckets of keys, throttles and idempotency records
		t.Errorf("%d streams, want the log's and its buckets'", n)
	}
}

// leader returns the name of the node leading the event stream.
func (c *natsCluster) leader(t *testing.T) string { return c.streamInfo(t).Leader }

// follower returns the name of a running node that does not lead the
// event stream: the leader of the data keys' bucket if it is one, whose
// loss every reader of a sealed event and every command's start-up meets.
func (c *natsCluster) follower(t *testing.T) string {
	leader := c.leader(t)
	if keys := c.streamInfoOf(t, "KV_INKWELL_DATAKEYS").Leader; keys != leader {
		return keys
	}
	for _, n := range c.nodes {
		if n.name != leader && n.cmd != nil {
			return n.name
		}
	}
	t.Fatal("no running follower")
	return ""
}

func (c *natsCluster) node(t *testing.T, name string) *natsNode {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

// waitCurrent waits until every replica of the event stream is online and
// current: the restarted nodes have caught up.
func (c *natsCluster) waitCurrent(t *testing.T) {
	t.Helper()
	testkit.WaitFor(t, 2*time.Minute, "every replica of the stream to catch up", func() bool {
		ci := c.streamInfo(t)
		if len(ci.Replicas) != len(c.nodes)-1 {
			return false
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	})
}

// kidOfHeader returns the key id of a JWT's header segment.
func kidOfHeader(segment string) string {
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return ""
	}
	var h struct{ Kid string }
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Kid
}
