package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"inkwell/auth"
	main "inkwell/cmd/inkwell"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/personal"
	"inkwell/readmodels/users"
	"inkwell/testkit"
)

var allReadModels = []projections.Projection{users.ReadModel{}, articles.ReadModel{}, personal.ReadModel{}}

// copyMasterKey puts the master key of the data directory from into the
// data directory to, as an operator restoring a backup does.
func copyMasterKey(t *testing.T, from, to string) {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(from, auth.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, auth.MasterKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
}

// backupLastSeq reads the last sequence of the log a backup holds from its
// manifest.
func backupLastSeq(t *testing.T, dir string) uint64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, eventstore.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var signed struct {
		Manifest eventstore.Manifest `json:"manifest"`
	}
	if err := json.Unmarshal(raw, &signed); err != nil {
		t.Fatal(err)
	}
	for _, sb := range signed.Manifest.Streams {
		if sb.Role == eventstore.RoleLog {
			return sb.LastSeq
		}
	}
	t.Fatal("the manifest names no log")
	return 0
}

// writers create articles through the API until stopped, remembering each
// acknowledged one.
type writers struct {
	mu    sync.Mutex
	acked []string // article ids, in the order they were acknowledged
	stop  chan struct{}
	done  sync.WaitGroup
	errs  []error
}

func startWriters(t *testing.T, s *server, tokens []string) *writers {
	w := &writers{stop: make(chan struct{})}
	for n, token := range tokens {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				body, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("writer %d article %d", n, i), "content": "words", "is_published": i%2 == 0})
				req, _ := http.NewRequest("POST", s.URL+"/api/articles/", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := s.client.Do(req)
				if err != nil {
					w.fail(err)
					return
				}
				var a struct{ ID string }
				err = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated || err != nil {
					w.fail(fmt.Errorf("create an article: %d %v", resp.StatusCode, err))
					return
				}
				w.mu.Lock()
				w.acked = append(w.acked, a.ID)
				w.mu.Unlock()
			}
		}()
	}
	t.Cleanup(w.finish)
	return w
}

func (w *writers) fail(err error) {
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
}

func (w *writers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *writers) ackedSoFar() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

func (w *writers) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.done.Wait()
}

// waitApplied waits until s's read models have applied every event of
// its log that they read (a read model measures its progress against the
// last event of its own aggregates, not the head of the log).
func (s *server) waitApplied(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	last := map[string]uint64{} // aggregate type -> its last event
	for _, rec := range eventstoretest.MustRead(t, s.Store, 1) {
		last[rec.Stream.Type] = rec.Seq
	}
	for _, p := range allReadModels {
		var seq uint64
		for _, typ := range p.AggregateTypes() {
			seq = max(seq, last[typ])
		}
		if err := s.Projection.WaitForProjection(ctx, p.Name(), seq); err != nil {
			t.Fatalf("%s to reach %d: %v", p.Name(), seq, err)
		}
	}
}

// A backup taken while clients write restores into a new data directory
// as the log stood at a moment of the backup: every write acknowledged
// before the backup began is there, and so is every event of the log up
// to the backup's last one, none after. Fed the events the original
// recorded after that moment, the restored server has the original's
// read models, row for row, and every acknowledged write.
func TestBackupUnderWritesRestoresTheOriginalsReadModels(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var tokens []string
	for i := range 3 {
		tokens = append(tokens, s.registerUser(t, fmt.Sprintf("writer%d", i)).AccessToken)
	}
	w := startWriters(t, s, tokens)
	testkit.WaitFor(t, time.Minute, "the first writes", func() bool { return w.count() >= 20 })

	before := w.ackedSoFar()
	dir, out := backUp(t, s)
	t.Log(out)
	atBackup := w.count()
	testkit.WaitFor(t, time.Minute, "writes after the backup", func() bool { return w.count() >= atBackup+20 })
	w.finish()
	if len(w.errs) > 0 {
		t.Fatalf("the writers failed: %v", w.errs)
	}
	last := backupLastSeq(t, dir)

	restored := t.TempDir()
	copyMasterKey(t, s.Config.DataDir, restored)
	out, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": restored}, "restore", "--from", dir)
	if err != nil {
		t.Fatalf("restore: %v: %s", err, out)
	}
	t.Log(out)
	r := startServer(t, func(c *main.Config) { c.DataDir = restored })
	if h := r.head(t); h != last {
		t.Fatalf("the restored log ends at %d, the backup's at %d", h, last)
	}
	ctx := context.Background()
	reads := articles.NewStore(r.DB)
	for _, id := range before {
		if _, err := reads.ArticleByRef(ctx, domain.SystemActor, id); err != nil {
			t.Fatalf("article %s, acknowledged before the backup began, is not in the restored read model: %v", id, err)
		}
	}

	// The rest of the original's log, as it recorded it, then the two
	// read models side by side.
	rest := eventstoretest.MustRead(t, s.Store, last+1)
	if len(rest) == 0 {
		t.Fatal("no event after the backup's last: the test cannot tell a backup under writes")
	}
	if err := r.Store.AppendBulk(ctx, rest); err != nil {
		t.Fatal(err)
	}
	if r.head(t) != s.head(t) {
		t.Fatalf("fed the rest of the original's log, the restored one ends at %d, the original at %d", r.head(t), s.head(t))
	}
	s.waitApplied(t)
	r.waitApplied(t)
	projectionstest.SameRows(t, "the restored server's read models, against the original's",
		projectionstest.Snapshot(t, r.DB, allReadModels...), projectionstest.Snapshot(t, s.DB, allReadModels...))
	for _, id := range w.ackedSoFar() {
		if _, err := reads.ArticleByRef(ctx, domain.SystemActor, id); err != nil {
			t.Fatalf("acknowledged article %s is missing: %v", id, err)
		}
	}
}

// A backup taken before an erasure, restored where the database's ledger
// of erasures is (here the SQLite file of the data directory, its NATS
// store moved aside), does not bring the person back: their data key is
// destroyed again, their erasure recorded again (the restored log lacked
// it), their account and articles are gone from the read models, their
// personal data reads erased; the others are as they were.
func TestRestoreOfABackupTakenBeforeAnErasure(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "root").AccessToken
	const bio = "Alice's own secret biography"
	alice := s.registerUser(t, "alice")
	aliceID := s.userID(t, alice.AccessToken)
	expect(t, s.request(t, "PATCH", "/api/auth/me/", alice.AccessToken, map[string]any{"bio": bio}), http.StatusOK)
	article := s.createArticle(t, alice.AccessToken, map[string]any{"title": "Alice writes", "content": "words", "is_published": true})["id"].(string)
	bob := s.registerUser(t, "bob")
	bobs := s.createArticle(t, bob.AccessToken, map[string]any{"title": "Bob writes", "content": "words", "is_published": true})["id"].(string)

	dir, _ := backUp(t, s)
	expect(t, s.request(t, "DELETE", "/api/auth/me/", alice.AccessToken, map[string]string{"password": "password-alice"}), http.StatusNoContent)
	testkit.WaitFor(t, time.Minute, "the ledger of erasures to name alice", func() bool {
		es, err := s.DB.Erasures(context.Background())
		return err == nil && slices.ContainsFunc(es, func(e projections.Erasure) bool { return e.UserID == aliceID })
	})

	// In place: the NATS store moved aside, the database (and its
	// ledger) kept.
	data := s.Config.DataDir
	out, err := restoreInPlace(t, s, dir)
	if err != nil {
		t.Fatalf("restore: %v: %s", err, out)
	}
	t.Log(out)
	if !strings.Contains(out, "1 of them not erased in the backup: 1 erasure recorded again in the log, 1 data key destroyed") {
		t.Errorf("the restore does not say it erased alice again: %s", out)
	}

	r := startServer(t, func(c *main.Config) { c.DataDir = data })
	ctx := context.Background()
	if erased, err := r.Store.DataKeys().Erased(ctx, aliceID); err != nil || !erased {
		t.Fatalf("alice's data key after the restore: erased %v (%v)", erased, err)
	}
	recs, _, err := r.Store.Load(ctx, domain.UserStream(aliceID))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := recs[len(recs)-1].Event.(*domain.UserErased); !ok {
		t.Fatalf("alice's last event in the restored log is %s, not her erasure", recs[len(recs)-1].Type)
	}
	for _, rec := range recs {
		if raw, _ := json.Marshal(rec.Event); strings.Contains(string(raw), bio) || strings.Contains(string(raw), "alice@example.com") {
			t.Fatalf("alice's personal data reads in the restored log: %s", raw)
		}
	}
	expect(t, r.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "alice", "password": "password-alice"}), http.StatusUnauthorized)
	expect(t, r.request(t, "GET", "/api/users/"+aliceID+"/", admin, nil), http.StatusNotFound)
	expect(t, r.request(t, "GET", "/api/articles/"+article+"/", admin, nil), http.StatusNotFound)
	rows := projectionstest.Snapshot(t, r.DB, allReadModels...)
	if raw, _ := json.Marshal(rows); strings.Contains(string(raw), aliceID) || strings.Contains(string(raw), bio) {
		t.Fatal("alice is in the restored read models")
	}
	expect(t, r.request(t, "GET", "/api/articles/"+bobs+"/", admin, nil), http.StatusOK)
	r.login(t, "bob")

	// Restored into a new data directory, the backup knows nothing of
	// the erasure (its ledger is in the database of the first):
	// docs/operations.md (Backup and restore) says so, and restoring
	// where the ledger is is what it asks.
}

// Every start of the server honours the ledger of erasures: a backup taken
// before an erasure, restored by NATS's own means (here JetStream's
// restore alone, as nats account restore does it) beside a database whose
// ledger names the person, does not bring them back once Inkwell starts:
// their key is destroyed, their erasure recorded again, their article
// deleted by the cascade.
func TestStartHonoursTheLedgerOfErasures(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "root").AccessToken
	alice := s.registerUser(t, "alice")
	aliceID := s.userID(t, alice.AccessToken)
	article := s.createArticle(t, alice.AccessToken, map[string]any{"title": "Alice writes", "content": "words", "is_published": true})["id"].(string)
	dir, _ := backUp(t, s)
	expect(t, s.request(t, "DELETE", "/api/auth/me/", alice.AccessToken, map[string]string{"password": "password-alice"}), http.StatusNoContent)
	var ledger []projections.Erasure
	testkit.WaitFor(t, time.Minute, "the ledger of erasures to name alice", func() bool {
		var err error
		ledger, err = s.DB.Erasures(context.Background())
		return err == nil && len(ledger) == 1
	})

	// A new data directory: the backup restored into its NATS store by
	// JetStream alone, and a database holding the ledger (as a
	// PostgreSQL database shared by the instances would).
	data := t.TempDir()
	copyMasterKey(t, s.Config.DataDir, data)
	restoreWithJetStreamOnly(t, filepath.Join(data, "nats"), dir, filepath.Join(data, auth.MasterKeyFile))
	ctx := context.Background()
	db, err := projections.Open(ctx, filepath.Join(data, "inkwell.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordErasures(ctx, ledger, time.Now()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := startServer(t, func(c *main.Config) { c.DataDir = data })
	testkit.WaitFor(t, time.Minute, "alice to be erased again", func() bool {
		erased, err := r.Store.DataKeys().Erased(ctx, aliceID)
		if err != nil || !erased {
			return false
		}
		recs, _, err := r.Store.Load(ctx, domain.UserStream(aliceID))
		return err == nil && len(recs) > 0 && recs[len(recs)-1].Type == "user.erased"
	})
	testkit.WaitFor(t, time.Minute, "the cascade to delete alice's article", func() bool {
		return r.request(t, "GET", "/api/articles/"+article+"/", admin, nil).Status == http.StatusNotFound
	})
	// The users read model follows the log on its own: it drops alice
	// when it applies her erasure, which may come after the articles read
	// model applied the cascade's deletion (later in the log).
	testkit.WaitFor(t, time.Minute, "the users read model to drop alice", func() bool {
		return r.request(t, "GET", "/api/users/"+aliceID+"/", admin, nil).Status == http.StatusNotFound
	})
}

// restoreWithJetStreamOnly restores the backup in dir into an embedded
// NATS server storing into store, and nothing else: no ledger, no rebuild.
func restoreWithJetStreamOnly(t *testing.T, store, dir, masterKey string) {
	t.Helper()
	master, _, err := auth.LoadOrGenerateMasterKey(masterKey, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := eventstore.OpenBackup(dir, master.Derive(eventstore.ManifestKeyLabel))
	if err != nil {
		t.Fatal(err)
	}
	token := eventstoretest.RandomName()
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{StoreDir: store, DontListen: true, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := eventstore.ConnectEmbedded(ns, token)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := eventstore.RestoreBackup(context.Background(), nc, b, eventstore.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
}

// newMasterKeyFile makes a master key of its own in a new file.
func newMasterKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.key")
	if _, _, err := auth.LoadOrGenerateMasterKey(path, true); err != nil {
		t.Fatal(err)
	}
	return path
}

// The backup and restore commands refuse what would lose or mix data, and
// say what to do: a backup into a directory that holds one, a restore
// without the master key, with another one, into a data directory whose
// event log is not empty.
func TestBackupAndRestoreRefusals(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.registerUser(t, "alice")
	env := map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir}
	dir, _ := backUp(t, s)
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"a backup into a backup", env, []string{"backup", "--to", dir}, "not empty"},
		{"a backup without --to", env, []string{"backup"}, "--to DIR is required"},
		{"a restore into a running server's data directory", env, []string{"restore", "--from", dir}, "stop every instance"},
		{"a restore without the master key", map[string]string{"INKWELL_DATA_DIR": t.TempDir()}, []string{"restore", "--from", dir}, "put a copy of that key at"},
		{"a restore with another master key", map[string]string{"INKWELL_DATA_DIR": t.TempDir(), "INKWELL_MASTER_KEY_PATH": newMasterKeyFile(t)},
			[]string{"restore", "--from", dir}, "the master key of the Inkwell that took it? Nothing was restored"},
		{"a restore into another log's configuration", map[string]string{"INKWELL_DATA_DIR": t.TempDir(), "INKWELL_NATS_STREAM": "OTHER",
			"INKWELL_MASTER_KEY_PATH": filepath.Join(s.Config.DataDir, auth.MasterKeyFile)}, []string{"restore", "--from", dir}, "the backup is of the log INKWELL"},
		{"a restore of what is not a backup", map[string]string{"INKWELL_DATA_DIR": t.TempDir(), "INKWELL_MASTER_KEY_PATH": filepath.Join(s.Config.DataDir, auth.MasterKeyFile)},
			[]string{"restore", "--from", t.TempDir()}, "not an Inkwell backup"},
	} {
		out, err := runCLI(t, c.env, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (%s), want an error saying %q", c.name, err, out, c.want)
		}
	}
	// Into a data directory that has an event log of its own.
	other := startServer(t)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": other.Config.DataDir, "INKWELL_MASTER_KEY_PATH": filepath.Join(s.Config.DataDir, auth.MasterKeyFile)}, "restore", "--from", dir)
	if err == nil || !strings.Contains(err.Error(), "is not empty") || !strings.Contains(err.Error(), "Nothing was restored") {
		t.Fatalf("a restore into a data directory with a log: %v (%s)", err, out)
	}
}

// An erasure the restored log cannot record again (its user is the last
// active superuser there) is not left in silence: the restore ends with an
// error saying what to do, the user's data key destroyed all the same.
func TestRestoreSaysWhichErasureItCouldNotRecordAgain(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.createAdmin(t, "root")
	rootID := s.userID(t, s.login(t, "root").AccessToken)
	dir, _ := backUp(t, s)
	second := s.createAdmin(t, "root2").AccessToken
	expect(t, s.request(t, "POST", "/api/users/"+rootID+"/erase/", second, nil), http.StatusNoContent)
	testkit.WaitFor(t, time.Minute, "the ledger of erasures to name root", func() bool {
		es, err := s.DB.Erasures(context.Background())
		return err == nil && len(es) == 1
	})
	data := s.Config.DataDir
	out, err := restoreInPlace(t, s, dir)
	if err == nil || !strings.Contains(err.Error(), "inkwell createsuperuser") || !strings.Contains(out, "could not record again the erasure of user "+rootID) {
		t.Fatalf("a restore that could not record an erasure again: %v\n%s", err, out)
	}
	r := startServer(t, func(c *main.Config) { c.DataDir = data })
	if erased, err := r.Store.DataKeys().Erased(context.Background(), rootID); err != nil || !erased {
		t.Fatalf("root's data key after the restore: erased %v (%v)", erased, err)
	}
}

// backUp backs s up with `inkwell backup` into a new directory, which it
// returns with what the command wrote.
func backUp(t *testing.T, s *server) (dir, out string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "backup")
	out, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir}, "backup", "--to", dir)
	if err != nil {
		t.Fatalf("backup: %v: %s", err, out)
	}
	return dir, out
}

// restoreInPlace stops s, moves its NATS store aside (its read-model
// database, and the ledger of erasures it holds, stay) and restores the
// backup dir into its data directory with `inkwell restore`, returning what
// the command wrote and its error.
func restoreInPlace(t *testing.T, s *server, dir string) (string, error) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data := s.Config.DataDir
	if err := os.Rename(filepath.Join(data, "nats"), filepath.Join(t.TempDir(), "nats-before-restore")); err != nil {
		t.Fatal(err)
	}
	return runCLI(t, map[string]string{"INKWELL_DATA_DIR": data}, "restore", "--from", dir)
}
