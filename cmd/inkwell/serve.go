package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/nats-io/nats.go"
	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/api"
	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/logging"
	"inkwell/metrics"
	"inkwell/projections"
	"inkwell/queries"
	"inkwell/reactors"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/personal"
	"inkwell/readmodels/users"
)

// Main is the API server process: its configuration and everything it runs.
type Main struct {
	Config Config
	Stdout io.Writer
	Stderr io.Writer
	// Logger, if set before Run, replaces the one built from Config.
	Logger *slog.Logger
	// PasswordParams, if set before Run, replace argon2id's parameters
	// (auth.OWASPParams): for tests, whose servers need not pay the real
	// cost of each hash.
	PasswordParams *argon2id.Params

	log      *slog.Logger
	eventLog *eventLog
	Store    *eventstore.Store
	DB       *projections.DB
	// The read models' queries, on DB.
	Articles     *articles.Store
	Users        *users.Store
	PersonalData *personal.Store
	Comments     *comments.Store
	Follows      *follows.Store
	Projection   *projections.Set
	Commands     *commands.Handlers
	Queries      *queries.Queries
	Tokens       *auth.Tokens
	Keys         *auth.Keys    // the static signing pair (--jwt-private-key), or nil
	Keyring      *auth.Keyring // the key set shared in NATS, or nil
	API          *api.Server
	Metrics      *metrics.Metrics
	Reactors     *reactors.Router
	integrity    *logIntegrity

	listener   net.Listener
	httpServer *http.Server
	pprofLn    net.Listener // until pprof serves on it
	pprof      *http.Server
	cancel     context.CancelFunc
	hasher     *auth.Hasher    // every password check of the server, within its limits
	memoryKept <-chan struct{} // closed once keepMemoryLimit has stopped
	serveDone  chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{Config: DefaultConfig(), Stdout: os.Stdout, Stderr: os.Stderr}
}

// serveCommand runs the API server until interrupted.
func (a *app) serveCommand() *ffcli.Command {
	return a.command(leaf{
		path:   "inkwell serve",
		usage:  "inkwell [serve] [flags]",
		help:   "run the API server (the default)",
		long:   "Flags win over their variables. It stops on SIGINT or SIGTERM, letting requests in flight finish.",
		groups: []group{groupServer, groupKeys, groupData, groupEventLog, groupDatabase, groupLog},
		run: func(ctx context.Context, cfg Config) error {
			m := NewMain()
			m.Config, m.Stdout, m.Stderr = cfg, a.stdout, a.stderr
			if err := m.Run(ctx); err != nil {
				return err
			}
			<-ctx.Done()
			return m.Close()
		},
	})
}

// Run starts the server and returns once it is listening. Close stops it.
func (m *Main) Run(ctx context.Context) (err error) {
	cfg := m.Config
	if err := cfg.check(); err != nil {
		return err
	}
	m.log = m.Logger
	if m.log == nil {
		m.log = newLogger(cfg, m.Stderr)
	}
	// Every line logged while a request is handled, by any package, names
	// the request.
	m.log = logging.Logger(m.log)
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	defer func() {
		if err != nil {
			m.Close()
			// No error prints a secret of a URL setting, whatever layer
			// quoted the URL.
			err = redactErr(err, cfg.DatabaseURL, cfg.NATSURL)
		}
	}()

	// Start-up writes nothing (no data directory, no master key, no
	// migration) before what the settings name is known to work: the
	// listeners, the files it reads, the external NATS and PostgreSQL
	// servers are all reached first.
	pprofLn, err := m.checkSettings(ctx)
	if err != nil {
		return err
	}
	guard, buckets, err := m.openEventLog(ctx)
	if err != nil {
		return err
	}
	// The memory limit holds from here: the embedded NATS server has
	// restored the log's state, which a limit below it would have the
	// collector chase without end while it grows (see memory.go).
	limit, _ := cfg.memoryLimit() // checked by cfg.check
	m.memoryKept = keepMemoryLimit(runCtx, limit, m.log)
	go watchMasterKey(runCtx, masterKeyPath(cfg), m.eventLog.master, m.log, m.Metrics)
	if err := m.openReadModels(ctx, runCtx, guard); err != nil {
		return err
	}
	if err := m.startHandlers(runCtx); err != nil {
		return err
	}
	// A backup taken before an erasure, restored by NATS's own tools,
	// must not bring the person back.
	go m.honourErasureLedger(runCtx)
	deps := m.apiDeps(buckets)
	if err := m.acceptDjangoTokens(&deps); err != nil {
		return err
	}
	m.API = api.NewServer(deps)
	m.serve(runCtx)
	if pprofLn != nil {
		m.servePprof(pprofLn)
	}
	version, revision, goVersion := buildVersion()
	m.log.Info("Inkwell is listening", "url", m.URL(), "version", version, "revision", revision, "go", goVersion,
		"event_log", m.eventLogName(), "read_model", string(m.DB.Dialect))
	return nil
}

// checkSettings reaches what the settings name before start-up writes
// anything: it listens on the address (a port in use is said before
// anything is opened, generated or migrated) and on the profiles' address,
// reads the static signing keys and the master key named by the settings,
// and reaches the PostgreSQL database; openEventLog reaches an external
// NATS server before it makes the data directory.
func (m *Main) checkSettings(ctx context.Context) (pprofLn net.Listener, err error) {
	cfg := m.Config
	if m.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s (--addr, $INKWELL_ADDR): %w", cfg.Addr, err)
	}
	if cfg.PprofAddr != "" {
		if pprofLn, err = net.Listen("tcp", cfg.PprofAddr); err != nil {
			return nil, fmt.Errorf("pprof listener on %s (--pprof-addr, $INKWELL_PPROF_ADDR): %w", cfg.PprofAddr, err)
		}
		m.pprofLn = pprofLn
	}
	if cfg.JWTPrivateKeyPath != "" {
		if m.Keys, err = loadKeys(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.MasterKeyPath != "" {
		if _, _, err := auth.LoadOrGenerateMasterKey(cfg.MasterKeyPath, false); err != nil {
			return nil, fmt.Errorf("%w (%s)", err, settingMasterKey)
		}
	}
	m.DB, err = reachDatabase(ctx, cfg.DatabaseURL)
	return pprofLn, err
}

// sharedBuckets are the key-value buckets beside the log that every
// instance shares: the records of idempotent requests and the throttles'
// counters.
type sharedBuckets struct {
	idempotency *eventstore.Bucket
	throttles   *eventstore.Bucket
}

// openEventLog opens the event log, the metrics that count its events, the
// guard of its disk and the buckets kept beside it.
func (m *Main) openEventLog(ctx context.Context) (*storageGuard, sharedBuckets, error) {
	cfg := m.Config
	var err error
	if m.eventLog, m.Store, err = openStore(ctx, cfg, m.log, true, false); err != nil {
		return nil, sharedBuckets{}, err
	}
	switch {
	case !m.Store.KeyedClaims():
		m.log.Warn("the event log was written before Inkwell sealed personal data: what it holds from then is in clear text, and its claims are named by unkeyed hashes; "+
			"stop every instance and run inkwell events encrypt", "stream", m.Store.Log().Stream)
	case !m.Store.SealedThroughout():
		m.log.Warn("the event log was written before Inkwell sealed the text of articles with their authors' keys: the articles written until then are in clear text, "+
			"and an erasure leaves them readable in the log; stop every instance and run inkwell events encrypt", "stream", m.Store.Log().Stream)
	}
	if limit := m.Store.EventLimit(ctx); limit < eventstore.MinMessageLimit {
		m.log.Warn(fmt.Sprintf("the event log takes messages of at most %d bytes (the NATS server's max_payload, or the stream's max_msg_size): "+
			"an article whose content nears its limit of %d characters needs up to %d, and is refused with a 413, or the answer kept for "+
			"retries of its Idempotency-Key is lost; set max_payload to 4MB on every NATS server (docs/configuration.md)", limit, domain.MaxContentLen, eventstore.MinMessageLimit),
			"limit", limit, "needed", eventstore.MinMessageLimit)
	}
	m.Metrics = metrics.New()
	m.Metrics.SetBuildInfo(buildVersion())
	m.Store.OnAppend = func(recs []domain.Record) {
		for _, r := range recs {
			m.Metrics.EventAppended(r.Type)
		}
	}
	// A new connection is to a server that may have restarted: an earlier
	// refusal to store says nothing about it.
	m.eventLog.NC.SetReconnectHandler(func(*nats.Conn) { m.Store.ForgetStoreRefusal() })
	reserve, _ := cfg.minFreeDisk() // checked by cfg.check
	guard := &storageGuard{dir: cfg.DataDir, reserve: reserve, embedded: m.eventLog.server, storeDir: m.eventLog.storeDir,
		store: m.Store, obs: m.Metrics, log: m.log}
	guard.check(ctx)
	m.Store.SetWritableCheck(guard.writable)
	var b sharedBuckets
	if b.idempotency, err = m.Store.OpenIdempotency(ctx); err != nil {
		return nil, b, err
	}
	if b.throttles, err = m.Store.OpenThrottles(ctx); err != nil {
		return nil, b, err
	}
	if err = m.Store.OpenSnapshots(ctx); err != nil {
		return nil, b, err
	}
	return guard, b, nil
}

// openReadModels opens and migrates the database and starts the
// projections, which run (and the disk guard with them) until runCtx ends.
func (m *Main) openReadModels(ctx, runCtx context.Context, guard *storageGuard) (err error) {
	if m.DB != nil {
		// PostgreSQL, reached by checkSettings.
		if err = migrateDatabase(ctx, m.DB, m.log); err != nil {
			return err
		}
	} else if m.DB, err = openReadModelDB(ctx, m.Config.databaseURL(), m.log, true, time.Now); err != nil {
		// A damaged SQLite file is set aside and a new one filled from the log.
		return err
	}
	m.Articles, m.Users, m.PersonalData = articles.NewStore(m.DB), users.NewStore(m.DB), personal.NewStore(m.DB)
	m.Comments = comments.NewStore(m.DB)
	m.Follows = follows.NewStore(m.DB)
	m.Projection = projections.NewSet(m.DB, m.Store, m.log, readModels()...)
	m.Projection.SetObserver(m.Metrics)
	// The log's damage is looked for before anything is written: writes
	// are refused while a read model is past the log's end, beside the
	// disk guard's refusals.
	m.integrity = &logIntegrity{store: m.Store, db: m.DB, log: m.log, reopen: m.Projection.Reopen}
	m.Store.SetWritableCheck(func() error { return errors.Join(guard.writable(), m.integrity.writable()) })
	m.integrity.start(ctx, runCtx)
	if err = m.Projection.Start(runCtx); err != nil {
		return err
	}
	guard.restarted = m.Projection.Reopen
	go guard.run(runCtx)
	return nil
}

// startHandlers loads the signing keys and makes the command and query
// handlers, and starts the reactors, which issue commands until runCtx
// ends.
func (m *Main) startHandlers(runCtx context.Context) (err error) {
	cfg := m.Config
	var keys auth.KeySource
	if m.Keys != nil { // loaded by checkSettings
		keys = m.Keys
	} else {
		if m.Keyring, err = openKeyring(runCtx, cfg, m.eventLog, m.Store, m.log); err != nil {
			return err
		}
		go m.Keyring.Follow(runCtx)
		keys = m.Keyring.Set
	}
	m.Tokens = auth.NewTokens(keys, auth.TokenConfig{
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience,
		AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, Leeway: 30 * time.Second,
	}, time.Now)
	hashMemory, _ := cfg.hashMemory() // checked by cfg.check
	params := auth.HashParams(hashMemory)
	if m.PasswordParams != nil {
		params = *m.PasswordParams
	}
	m.hasher = auth.NewHasher(params, cfg.HashConcurrency)
	m.hasher.LegacyIterations = cfg.DjangoPasswordIterations
	m.Commands = commands.New(commands.Deps{
		Store:                  m.Store,
		Hasher:                 m.hasher,
		ArticleDeleteStaffOnly: cfg.ArticleDelete == "staff",
		Logger:                 m.log,
		DataKeys:               m.eventLog.keys,
		Observer:               m.Metrics,
	})
	m.Queries = queries.New(queries.Deps{Store: m.Store, Observer: m.Metrics})
	rs := []reactors.Reactor{
		&reactors.Cascade{Commands: m.Commands, Users: m.Queries.CurrentUser, Articles: m.Articles, Comments: m.Comments, ReadModels: m.Projection},
		&reactors.DataKeyShredder{Keys: m.eventLog.keys},
	}
	m.declareMetrics(rs)
	m.Reactors, err = reactors.Start(runCtx, m.Store, reactors.Config{Logger: m.log, Observer: m.Metrics}, rs...)
	return err
}

// declareMetrics exports, with their zeros, the series of every
// projection, reactor, dependency and event type this server has.
func (m *Main) declareMetrics(rs []reactors.Reactor) {
	k := metrics.Known{Dependencies: []string{domain.DependencyEventLog, domain.DependencyDatabase}}
	for _, p := range readModels() {
		k.Projections = append(k.Projections, p.Name())
	}
	for _, r := range rs {
		k.Reactors = append(k.Reactors, r.Name())
	}
	for _, e := range domain.EventSpecs() {
		k.EventTypes = append(k.EventTypes, e.Type)
	}
	m.Metrics.Declare(k)
}

// requestHashLabel derives, from the master key, the key of what the API
// keeps about requests in NATS (idempotency records, throttle counters):
// every instance derives the same.
const requestHashLabel = "inkwell request names"

// apiDeps are what the API server gets: everything Run opened.
func (m *Main) apiDeps(b sharedBuckets) api.Deps {
	cfg := m.Config
	trusted, _ := cfg.trustedProxies() // checked by cfg.check
	return api.Deps{
		Security: api.SecurityConfig{
			CORSOrigins:    cfg.corsOrigins(),
			TrustedProxies: trusted,
			Throttle: api.ThrottleConfig{
				LoginFailuresBeforeThrottle:   cfg.LoginThrottleAfter,
				AddressFailuresBeforeThrottle: cfg.AddressThrottleAfter,
				LoginMaxBlock:                 cfg.LoginMaxBlock,
				RegistrationsPerHour:          cfg.RegistrationsPerHour,
			},
		},
		Commands:              m.Commands,
		Queries:               m.Queries,
		Idempotency:           b.idempotency,
		Throttles:             b.throttles,
		HashKey:               m.eventLog.master.Derive(requestHashLabel),
		IdempotencyObserver:   m.Metrics,
		RequestTimeout:        cfg.RequestTimeout,
		ExportConcurrency:     cfg.ExportConcurrency,
		ReadYourWritesTimeout: cfg.ReadYourWritesTimeout,
		Unavailable:           m.Metrics,
		Users:                 m.Users,
		Articles:              m.Articles,
		Categories:            m.Articles,
		Tags:                  m.Articles,
		AdminUsers:            m.Users,
		Personal:              m.PersonalData,
		Comments:              m.Comments,
		Follows:               m.Follows,
		ReadModels:            m.Projection,
		Tokens:                m.Tokens,
		Keys:                  m.Tokens.Keys(),
		Logger:                m.log,
		Observer:              m.Metrics,
		Metrics:               m.Metrics.Handler(),
		Events:                m.Store,
		Ready:                 m.readinessChecks(),
	}
}

// serve serves the API on the listener, in the background; requests get
// contexts under runCtx.
func (m *Main) serve(runCtx context.Context) {
	limited := newConnLimiter(m.listener, m.Config.MaxConnections)
	m.httpServer = &http.Server{
		ConnState:         limited.connState,
		Handler:           m.API.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return runCtx },
	}
	m.httpServer.RegisterOnShutdown(m.API.Shutdown)
	m.serveDone = make(chan struct{})
	go func() {
		defer close(m.serveDone)
		if err := m.httpServer.Serve(limited); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("http server", "err", err)
		}
	}()
}

// URL returns the server's base URL.
func (m *Main) URL() string {
	if m.listener == nil {
		return ""
	}
	addr := m.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

func (m *Main) eventLogName() string {
	if m.Config.NATSURL != "" {
		return "external NATS"
	}
	return "embedded NATS"
}

// Close stops accepting requests, finishes the ones in flight (up to 30s),
// then stops the projections and the event log.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		if m.httpServer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := m.httpServer.Shutdown(ctx); err != nil {
				m.closeErr = fmt.Errorf("http shutdown: %w", err)
			}
			cancel()
			<-m.serveDone
		}
		if m.Reactors != nil {
			if err := m.Reactors.Close(); err != nil {
				m.log.Warn("stop reactors", "err", err)
			}
		}
		if m.cancel != nil {
			m.cancel()
		}
		if m.memoryKept != nil {
			<-m.memoryKept // its last word logged before Close returns
		}
		if m.Projection != nil {
			m.Projection.Wait()
		}
		if m.DB != nil {
			m.DB.Close()
		}
		if m.eventLog != nil {
			m.eventLog.Close()
		}
		if m.pprof != nil {
			_ = m.pprof.Close()
		} else if m.pprofLn != nil {
			m.pprofLn.Close() // start-up failed before serving
		}
		if m.listener != nil && m.serveDone == nil {
			m.listener.Close() // start-up failed before serving
		}
		if m.serveDone != nil {
			m.log.Info("Inkwell stopped")
		}
	})
	return m.closeErr
}

// loadKeys loads the static signing pair the configuration names.
func loadKeys(cfg Config) (*auth.Keys, error) {
	k, err := auth.LoadKeys(cfg.JWTPrivateKeyPath, cfg.JWTPublicKeyPath)
	if err != nil {
		return nil, fmt.Errorf("signing keys (--jwt-private-key $INKWELL_JWT_PRIVATE_KEY_PATH, --jwt-public-key $INKWELL_JWT_PUBLIC_KEY_PATH): %w", err)
	}
	return k, nil
}

// readinessChecks are the checks of /readyz: the event log, the database,
// and each projection (applied somewhere, not stalled, not far behind).
func (m *Main) readinessChecks() []api.Check {
	checks := []api.Check{
		{Name: "event_log", Check: func(ctx context.Context) error {
			if _, err := m.Store.Head(ctx); err != nil {
				return err
			}
			// A refusal whose cause is gone does not wait for a write
			// to be forgotten: this instance may get none while it is
			// not ready.
			if err := m.Store.RecheckRefusal(ctx); err != nil {
				return err
			}
			return m.Store.Writable()
		}},
		{Name: "database", Check: func(ctx context.Context) error { return m.DB.PingContext(ctx) }},
		{Name: "event_log_integrity", Check: m.integrity.ready},
	}
	for _, r := range m.Projection.Runners() {
		name := r.Projection().Name()
		checks = append(checks, api.Check{Name: "projection " + name, Check: func(ctx context.Context) error {
			return m.Projection.Ready(ctx, name)
		}})
	}
	return checks
}

// servePprof serves Go's profiles (net/http/pprof) on a listener of their
// own, ln (listened on at start-up), apart from the API: an operator profiles a slow instance
// there (go tool pprof http://127.0.0.1:6060/debug/pprof/profile). It is
// off unless configured; keep it on a loopback or private address.
func (m *Main) servePprof(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.pprof.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("pprof server", "err", err)
		}
	}()
	m.log.Info("serving profiles", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
}
