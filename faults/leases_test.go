//go:build heavy

package faults_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to end an instance's sessions

	"inkwell/faults"
	"inkwell/projections/projectionstest"
	"inkwell/testkit"
)

// The scenarios of one instance that applies the read models (it holds
// their leases) and stops serving them while another instance takes the
// writes: two Inkwell instances on one NATS server and one PostgreSQL
// database, instance a started first (so it applies every projection),
// the load writing through instance b only, whose writes wait for the read
// models a applies. Each measures how long b's writes go without becoming
// readable (the takeover: until b applies every projection) against the
// bound docs/operations.md states, and checks, besides the usual, that b never
// called itself ready while its writes could not become readable.

// takeoverBound is the bound docs/operations.md states for another
// instance to apply the read models of one cut off from the log or stopped: 5 s for
// the fault to be noticed (the log's answer, or PostgreSQL's idle session
// and transaction timeouts), a second for the lease to pass, a batch to
// catch up; this bound leaves a busy machine room.
const takeoverBound = 30 * time.Second

// leaderScenario starts the two instances, runs the load through b,
// injects fault into a (returning a function that ends it), and checks.
func leaderScenario(t *testing.T, fault string, inject func(t *testing.T, a *inkwell, pg string, natsProxy *faults.Proxy) (end func())) {
	nats := newNATS(t)
	nats.startServing()
	proxy := faults.StartProxy(t, strings.TrimPrefix(nats.url, "nats://"))
	_, live := projectionstest.MustOpenPostgresURL(t)
	master := "INKWELL_MASTER_KEY_PATH=" + t.TempDir() + "/master.key"
	// a's sessions carry its name, so that they can be found in
	// pg_stat_activity.
	liveA := projectionstest.WithParam(t, live, "application_name", "inkwell-a")
	a := newInkwell(t, "inkwell-a", "INKWELL_DATA_DIR="+t.TempDir(), master,
		"INKWELL_NATS_URL=nats://"+proxy.Addr(), "INKWELL_DATABASE_URL="+liveA)
	b := newInkwell(t, "inkwell-b", "INKWELL_DATA_DIR="+t.TempDir(), master,
		"INKWELL_NATS_URL="+nats.url, "INKWELL_DATABASE_URL="+live)
	a.run("keys", "init")
	a.startServing()
	a.waitReady(readyBound)
	testkit.WaitFor(t, time.Minute, "instance a to apply every projection", func() bool { return leadsAll(a) })
	b.startServing()
	b.waitReady(readyBound)

	l := newLoad(t, "lease", b.url, workers)
	l.run()
	waitProgress(t, l, 20)
	watch := watchReadiness(t, b, l)
	end := inject(t, a, live, proxy)
	start := time.Now()
	testkit.WaitFor(t, 2*time.Minute, "instance b to apply every projection", func() bool { return leadsAll(b) })
	takeover := time.Since(start)
	waitProgress(t, l, 20)
	end()
	ended := time.Now()
	a.waitReady(readyBound)
	b.waitReady(readyBound)
	ready := time.Since(ended)
	waitProgress(t, l, 10)
	l.finish()
	watch.stop()
	r := verify(t, fault, b, l, live, true)
	r.ready = ready
	r.note = fmt.Sprintf("b applies the read models %.1f s after the fault; b ready while a write waited in vain: %d times", takeover.Seconds(), watch.lies)
	if takeover > takeoverBound {
		t.Errorf("instance b applied the read models %v after the fault, past the bound of %v", takeover.Round(time.Millisecond), takeoverBound)
	}
	if watch.lies > 0 {
		t.Errorf("instance b answered /readyz 200 %d times while one of its writes had been answered 202 and was not readable", watch.lies)
	}
	results.add(r)
	a.stop()
	b.stop()
}

// leaderCutFromNATS freezes instance a's connection to NATS (its database
// is fine): it must give up its leases.
func leaderCutFromNATS(t *testing.T, fault string) {
	leaderScenario(t, fault, func(t *testing.T, a *inkwell, _ string, p *faults.Proxy) func() {
		p.Freeze()
		return p.Thaw
	})
}

// leaderPaused stops instance a (SIGSTOP); with endSessions, the
// PostgreSQL sessions holding its leases are ended too (as an operator
// does to free them), and its other sessions, one of which may be in the
// middle of an apply transaction, are left as the pause left them.
func leaderPaused(t *testing.T, fault string, endSessions bool) {
	leaderScenario(t, fault, func(t *testing.T, a *inkwell, pg string, _ *faults.Proxy) func() {
		a.signal(syscall.SIGSTOP)
		if endSessions {
			db, err := sql.Open("pgx", pg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
				WHERE l.locktype = 'advisory' AND a.application_name = 'inkwell-a'`); err != nil {
				t.Fatal(err)
			}
		}
		return func() { a.signal(syscall.SIGCONT) }
	})
}

// leadsAll reports whether the instance s applies every projection it runs,
// as its /metrics says (false when it does not answer).
func leadsAll(s *inkwell) bool {
	lead, all := leading(s)
	return all > 0 && lead == all
}

// leading returns how many projections the instance s applies, and how
// many it runs (a server exports the series of each from start-up), as its
// /metrics says (0, 0 when it does not answer).
func leading(s *inkwell) (lead, all int) {
	resp, err := probe.Get(s.url + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "inkwell_projection_leader{") {
			all++
			if strings.HasSuffix(line, " 1") {
				lead++
			}
		}
	}
	return lead, all
}

// readinessWatch probes an instance's /readyz while a load writes through
// it, and counts the probes answered 200 while a write the load had been
// answered 202 for was not yet readable (checked after the probe, so that
// a write that became readable meanwhile is not counted).
type readinessWatch struct {
	lies int
	done chan struct{}
	quit chan struct{}
}

func watchReadiness(t *testing.T, s *inkwell, l *load) *readinessWatch {
	w := &readinessWatch{done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.quit:
				return
			case <-time.After(200 * time.Millisecond): // a load balancer's probe, not a condition
			}
			pending := l.acceptedUnread()
			if len(pending) == 0 || status(s.url+"/readyz") != 200 {
				continue
			}
			for _, id := range pending {
				if status(s.url+"/api/articles/"+id+"/") != 200 {
					w.lies++
					break
				}
			}
		}
	}()
	return w
}

func (w *readinessWatch) stop() {
	close(w.quit)
	<-w.done
}
