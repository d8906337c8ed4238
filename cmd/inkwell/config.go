package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/dustin/go-humanize"

	"inkwell/api"
	"inkwell/auth"
	"inkwell/eventstore"
)

// Config is everything the binary can be told, from flags and INKWELL_*
// environment variables (a flag wins over its variable).
type Config struct {
	Addr    string
	DataDir string

	NATSURL string
	// NATSWait bounds how long start-up waits for an external NATS server
	// that cannot be reached yet, trying again, before it gives up.
	NATSWait          time.Duration
	NATSSync          string
	NATSReplicas      int
	NATSStream        string
	NATSSubjectPrefix string

	DatabaseURL string

	// MinFreeDisk is the free space under the data directory below which
	// the embedded event log refuses writes (503) instead of filling the
	// disk, as "64MiB" or a number of bytes.
	MinFreeDisk string
	// RequestTimeout bounds every request (the event stream and the
	// export's download aside).
	RequestTimeout time.Duration
	// ReadYourWritesTimeout bounds how long a write waits for the read
	// models to show it before answering 202.
	ReadYourWritesTimeout time.Duration
	// PprofAddr, if set, is the address of a listener serving Go's
	// profiles (net/http/pprof).
	PprofAddr string
	// SnapshotEvery is how many events of an article or a user pass
	// between two snapshots written beside the log; SnapshotCache bounds
	// the snapshots kept in memory, as "16MiB" ("0": none).
	SnapshotEvery int
	SnapshotCache string

	// ArticleDelete is who deletes articles: "owner" (the author or staff)
	// or "staff" (the tutorial's AdminAuth on delete).
	ArticleDelete string

	MasterKeyPath     string
	JWTPrivateKeyPath string
	JWTPublicKeyPath  string
	JWTIssuer         string
	JWTAudience       string
	AccessTTL         time.Duration
	RefreshTTL        time.Duration

	// Security of the HTTP surface.
	CORSOrigins          string // comma-separated
	TrustedProxies       string // comma-separated CIDRs
	LoginThrottleAfter   int
	AddressThrottleAfter int
	LoginMaxBlock        time.Duration
	RegistrationsPerHour int
	HashConcurrency      int
	// HashMemory is the memory of each password hash, as "7MiB": at
	// least auth.MinHashMemory, with OWASP's passes for it
	// (auth.HashParams).
	HashMemory string
	// MemoryLimit is the Go runtime's soft memory limit, as "80MiB"
	// ("0": none): see memoryLimit.
	MemoryLimit string
	// DjangoPasswordIterations is the PBKDF2 iteration count of password
	// hashes imported from Django that every login spends (see
	// auth.Hasher.LegacyIterations; 0: none).
	DjangoPasswordIterations int
	// The Django app's token settings: with its public key, the tokens it
	// issued are accepted until they expire (see acceptDjangoTokens).
	DjangoJWTPublicKeyPath string
	DjangoJWTIssuer        string
	DjangoJWTAudience      string
	// ExportConcurrency bounds the exports of personal data running at
	// once on this instance.
	ExportConcurrency int
	// MaxConnections bounds the HTTP connections the server holds (see
	// connLimiter).
	MaxConnections int

	LogLevel  string
	LogFormat string
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		Addr:                  ":8000",
		DataDir:               "./data",
		NATSReplicas:          1,
		NATSWait:              time.Minute,
		ArticleDelete:         "owner",
		NATSStream:            "INKWELL",
		NATSSubjectPrefix:     "inkwell.events",
		MinFreeDisk:           "64MiB",
		SnapshotEvery:         eventstore.DefaultSnapshotEvery,
		SnapshotCache:         "16MiB",
		RequestTimeout:        15 * time.Second,
		ReadYourWritesTimeout: 5 * time.Second,
		JWTIssuer:             "inkwell",
		JWTAudience:           "inkwell-api",
		AccessTTL:             15 * time.Minute,
		RefreshTTL:            7 * 24 * time.Hour,
		LoginThrottleAfter:    5,
		AddressThrottleAfter:  20,
		LoginMaxBlock:         15 * time.Minute,
		RegistrationsPerHour:  20,
		ExportConcurrency:     api.DefaultExportConcurrency,
		MaxConnections:        defaultMaxConnections,
		HashMemory:            "7MiB",
		MemoryLimit:           defaultMemoryLimit,
		LogLevel:              "info",
		LogFormat:             "text",
	}
}

// group is a set of configuration flags: each command registers the
// groups it uses, and its -h lists those only.
type group int

const (
	groupData     group = iota // the data directory
	groupLog                   // the log's level and format
	groupEventLog              // the event log: NATS, and the master key of the secrets kept there
	groupDatabase              // the read-model database
	groupServer                // the HTTP server, tokens, throttles and guards
	groupKeys                  // the signing keys: the refresh tokens' lifetime
)

// envBindings maps each configuration flag a command registered to its
// environment variable.
type envBindings map[string]string

// bindConfig registers on fs the flags of c's fields in groups. Their
// defaults are the built-in ones (so -h shows those, never a secret from
// the environment); applyEnv sets, after parsing, each flag not given on
// the command line from its variable.
func bindConfig(fs *flag.FlagSet, c *Config, groups ...group) envBindings {
	env := envBindings{}
	str := func(p *string, name, variable, usage string) {
		fs.StringVar(p, name, *p, usage+" ($"+variable+")")
		env[name] = variable
	}
	// Durations and numbers are Inkwell's flag.Values, whose errors say
	// the value and the form it takes (flag's own say "parse error").
	dur := func(p *time.Duration, name, variable, usage string) {
		fs.Var((*durationValue)(p), name, usage+" ($"+variable+")")
		env[name] = variable
	}
	num := func(p *int, name, variable, usage string) {
		fs.Var((*intValue)(p), name, usage+" ($"+variable+")")
		env[name] = variable
	}
	for _, g := range groups {
		switch g {
		case groupData:
			str(&c.DataDir, "data-dir", "INKWELL_DATA_DIR", "directory for the embedded event log, the SQLite read model and the generated master key")
		case groupLog:
			str(&c.LogLevel, "log-level", "INKWELL_LOG_LEVEL", "debug, info, warn or error")
			str(&c.LogFormat, "log-format", "INKWELL_LOG_FORMAT", "text or json")
		case groupEventLog:
			str(&c.NATSURL, "nats-url", "INKWELL_NATS_URL", "external NATS server with JetStream, or a cluster's servers comma-separated (default: run one embedded)")
			dur(&c.NATSWait, "nats-wait", "INKWELL_NATS_WAIT", "how long start-up waits for an external NATS server it cannot reach yet, trying again, before it gives up (0: it does not wait)")
			str(&c.NATSSync, "nats-sync", "INKWELL_NATS_SYNC", `embedded NATS disk sync: "always" (survives power loss) or an interval such as 2m (survives a crash; the default)`)
			num(&c.NATSReplicas, "nats-replicas", "INKWELL_NATS_REPLICAS", "replicas of the event stream on a NATS cluster")
			str(&c.NATSStream, "nats-stream", "INKWELL_NATS_STREAM", "name of the JetStream stream holding the event log")
			str(&c.NATSSubjectPrefix, "nats-subject-prefix", "INKWELL_NATS_SUBJECT_PREFIX", "prefix of the event subjects: <prefix>.<aggregate>.<id>")
			str(&c.MasterKeyPath, "master-key", "INKWELL_MASTER_KEY_PATH", "file of the master key wrapping the data keys of personal data and the signing keys kept in NATS, the same for every instance (default: master.key, generated into the data directory)")
		case groupDatabase:
			str(&c.DatabaseURL, "database-url", "INKWELL_DATABASE_URL", "read-model database: postgres://... (default: SQLite file in the data directory)")
		case groupKeys:
			dur(&c.RefreshTTL, "refresh-ttl", "INKWELL_JWT_REFRESH_TTL", "refresh token lifetime (a signing key superseded that long ago retires)")
		case groupServer:
			str(&c.Addr, "addr", "INKWELL_ADDR", "HTTP listen address")
			str(&c.MinFreeDisk, "min-free-disk", "INKWELL_MIN_FREE_DISK", `free space under the data directory below which the embedded event log refuses writes, such as 64MiB or 1GB`)
			dur(&c.RequestTimeout, "request-timeout", "INKWELL_REQUEST_TIMEOUT", "longest a request may take before it answers 503 (the event stream and the export's download aside)")
			dur(&c.ReadYourWritesTimeout, "read-your-writes-timeout", "INKWELL_READ_YOUR_WRITES_TIMEOUT", "longest a write waits for the read models to show it before answering 202")
			str(&c.ArticleDelete, "article-delete", "INKWELL_ARTICLE_DELETE", `who deletes articles: "owner" (the author or staff) or "staff" only`)
			str(&c.JWTPrivateKeyPath, "jwt-private-key", "INKWELL_JWT_PRIVATE_KEY_PATH", "PEM RSA private key signing tokens, one static key (default: the key set shared in NATS, see inkwell keys)")
			str(&c.JWTPublicKeyPath, "jwt-public-key", "INKWELL_JWT_PUBLIC_KEY_PATH", "PEM RSA public key matching the private key")
			str(&c.JWTIssuer, "jwt-issuer", "INKWELL_JWT_ISSUER", "token issuer (iss)")
			str(&c.JWTAudience, "jwt-audience", "INKWELL_JWT_AUDIENCE", "token audience (aud)")
			dur(&c.AccessTTL, "access-ttl", "INKWELL_JWT_ACCESS_TTL", "access token lifetime")
			str(&c.CORSOrigins, "cors-origins", "INKWELL_CORS_ORIGINS", "comma-separated origins allowed to call the API from a browser (default: none, CORS off)")
			str(&c.TrustedProxies, "trusted-proxies", "INKWELL_TRUSTED_PROXIES", "comma-separated CIDRs of proxies whose X-Forwarded-For names the client")
			num(&c.LoginThrottleAfter, "login-throttle-after", "INKWELL_LOGIN_THROTTLE_AFTER", "failed logins per account and address before each further one blocks them (1s, 2s, 4s, ...)")
			num(&c.AddressThrottleAfter, "address-throttle-after", "INKWELL_ADDRESS_THROTTLE_AFTER", "failed logins per address, over all accounts, before throttling")
			dur(&c.LoginMaxBlock, "login-max-block", "INKWELL_LOGIN_MAX_BLOCK", "longest block after failed logins")
			num(&c.RegistrationsPerHour, "registrations-per-hour", "INKWELL_REGISTRATIONS_PER_HOUR", "registrations per client address and hour")
			num(&c.HashConcurrency, "hash-concurrency", "INKWELL_HASH_CONCURRENCY", "password hashes at once, each holding --hash-memory (default: the number of CPUs)")
			str(&c.HashMemory, "hash-memory", "INKWELL_HASH_MEMORY", "memory of each password hash (argon2id), 7MiB or more, with as many passes as OWASP recommends for it (7MiB: 5, 9MiB: 4, 12MiB: 3, 19MiB: 2, 46MiB: 1)")
			str(&c.MemoryLimit, "memory-limit", "INKWELL_MEMORY_LIMIT", "the Go runtime's soft memory limit, such as 80MiB: near it the garbage collector runs more often; it gives way to a live heap that needs more, never less than half above it (0: none; GOMEMLIMIT, when set, wins)")
			str(&c.DjangoJWTPublicKeyPath, "django-jwt-public-key", "INKWELL_DJANGO_JWT_PUBLIC_KEY_PATH", "PEM RSA public key of the Django app Inkwell imported: its tokens are accepted until they expire (default: none)")
			str(&c.DjangoJWTIssuer, "django-jwt-issuer", "INKWELL_DJANGO_JWT_ISSUER", "iss of the Django app's tokens (its JWT_ISSUER; required with --django-jwt-public-key)")
			str(&c.DjangoJWTAudience, "django-jwt-audience", "INKWELL_DJANGO_JWT_AUDIENCE", "aud of the Django app's tokens (its JWT_AUDIENCE; required with --django-jwt-public-key)")
			num(&c.DjangoPasswordIterations, "django-password-iterations", "INKWELL_DJANGO_PASSWORD_ITERATIONS", "PBKDF2 iterations of the password hashes imported from Django (inkwell import django says them): every login spends as much, so that its time tells no one which accounts hold one (default 0: none)")
			num(&c.ExportConcurrency, "export-concurrency", "INKWELL_EXPORT_CONCURRENCY", "exports of personal data at once (GET /api/auth/me/export/), one per user; more are answered 503")
			num(&c.MaxConnections, "max-connections", "INKWELL_MAX_CONNECTIONS", "HTTP connections the server holds at once; at the bound a new one closes the connection quiet the longest (idle, or that has sent nothing), or waits for one to close")
			num(&c.SnapshotEvery, "snapshot-every", "INKWELL_SNAPSHOT_EVERY", "events of an article or a user between two snapshots of it kept beside the log, so that loading it costs the same at any age")
			str(&c.SnapshotCache, "snapshot-cache", "INKWELL_SNAPSHOT_CACHE", "memory for the snapshots of recently loaded articles and users, such as 16MiB (0: none)")
			str(&c.PprofAddr, "pprof-addr", "INKWELL_PPROF_ADDR", "address of a listener serving Go's profiles at /debug/pprof/, such as 127.0.0.1:6060 (default: none)")
		}
	}
	return env
}

// applyEnv sets each configuration flag of fs that the command line did not
// give from its environment variable, if that is set: a flag wins over its
// variable, which wins over the default.
func (env envBindings) applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	for name, variable := range env {
		if v := getenv(variable); v != "" && !given[name] {
			if err := fs.Set(name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", flagName(name, variable), err))
			}
		}
	}
	return errors.Join(errs...)
}

// flagName names a configuration setting in messages: its flag and its
// variable, as an operator may have used either.
func flagName(flag, variable string) string { return "--" + flag + " ($" + variable + ")" }

// check validates the configuration after parsing; each message names the
// setting (flag and variable) and what it takes.
func (c *Config) check() error {
	var errs []error
	bad := func(flag, variable, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", flagName(flag, variable), fmt.Sprintf(format, args...)))
	}
	if c.DataDir == "" {
		bad("data-dir", "INKWELL_DATA_DIR", "must not be empty")
	}
	if c.JWTPublicKeyPath != "" && c.JWTPrivateKeyPath == "" {
		bad("jwt-public-key", "INKWELL_JWT_PUBLIC_KEY_PATH", "needs --jwt-private-key ($INKWELL_JWT_PRIVATE_KEY_PATH) too")
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		bad("nats-replicas", "INKWELL_NATS_REPLICAS", "must be 1 to 5, not %d", c.NATSReplicas)
	}
	if c.NATSStream == "" || strings.ContainsAny(c.NATSStream, ". *>") {
		bad("nats-stream", "INKWELL_NATS_STREAM", "%q must be non-empty, without dots, spaces or wildcards", c.NATSStream)
	}
	if c.NATSSubjectPrefix == "" || strings.ContainsAny(c.NATSSubjectPrefix, " *>") {
		bad("nats-subject-prefix", "INKWELL_NATS_SUBJECT_PREFIX", "%q must be non-empty, without spaces or wildcards", c.NATSSubjectPrefix)
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		bad("database-url", "INKWELL_DATABASE_URL", "%v", err)
	}
	if c.NATSURL != "" {
		if err := checkURLs(c.NATSURL, "nats", true); err != nil {
			bad("nats-url", "INKWELL_NATS_URL", "%v", err)
		}
	}
	if c.NATSWait < 0 {
		bad("nats-wait", "INKWELL_NATS_WAIT", "must not be negative (0: do not wait), not %v", c.NATSWait)
	}
	switch s := strings.TrimSpace(c.NATSSync); s {
	case "", "default", "always":
	default:
		if d, err := time.ParseDuration(s); err != nil || d <= 0 {
			bad("nats-sync", "INKWELL_NATS_SYNC", `%q must be "always" or a positive duration with a unit, such as 2m or 30s`, s)
		}
	}
	if _, err := c.minFreeDisk(); err != nil {
		bad("min-free-disk", "INKWELL_MIN_FREE_DISK", "%v", err)
	}
	if c.SnapshotEvery < 1 || c.SnapshotEvery > 1_000_000 {
		bad("snapshot-every", "INKWELL_SNAPSHOT_EVERY", "must be 1 to 1000000, not %d", c.SnapshotEvery)
	}
	if _, err := c.snapshotCache(); err != nil {
		bad("snapshot-cache", "INKWELL_SNAPSHOT_CACHE", "%v", err)
	}
	for _, d := range []struct {
		v              time.Duration
		flag, variable string
	}{
		{c.RequestTimeout, "request-timeout", "INKWELL_REQUEST_TIMEOUT"},
		{c.ReadYourWritesTimeout, "read-your-writes-timeout", "INKWELL_READ_YOUR_WRITES_TIMEOUT"},
		{c.AccessTTL, "access-ttl", "INKWELL_JWT_ACCESS_TTL"},
		{c.RefreshTTL, "refresh-ttl", "INKWELL_JWT_REFRESH_TTL"},
		{c.LoginMaxBlock, "login-max-block", "INKWELL_LOGIN_MAX_BLOCK"},
	} {
		if d.v <= 0 {
			bad(d.flag, d.variable, "must be a positive duration such as 15m, not %v", d.v)
		}
	}
	if c.AccessTTL > 0 && c.RefreshTTL > 0 && c.AccessTTL > c.RefreshTTL {
		// A signing key retires once the refresh lifetime has passed since
		// it was superseded: an access token living longer would outlive
		// the key that verifies it.
		bad("access-ttl", "INKWELL_JWT_ACCESS_TTL", "%v is longer than the refresh token lifetime %v (--refresh-ttl, $INKWELL_JWT_REFRESH_TTL): an access token must not outlive its session's refresh token", c.AccessTTL, c.RefreshTTL)
	}
	if c.ArticleDelete != "owner" && c.ArticleDelete != "staff" {
		bad("article-delete", "INKWELL_ARTICLE_DELETE", "must be owner or staff, not %q", c.ArticleDelete)
	}
	if _, err := c.trustedProxies(); err != nil {
		bad("trusted-proxies", "INKWELL_TRUSTED_PROXIES", "%v", err)
	}
	for _, n := range []struct {
		v              int
		flag, variable string
	}{
		{c.LoginThrottleAfter, "login-throttle-after", "INKWELL_LOGIN_THROTTLE_AFTER"},
		{c.AddressThrottleAfter, "address-throttle-after", "INKWELL_ADDRESS_THROTTLE_AFTER"},
		{c.RegistrationsPerHour, "registrations-per-hour", "INKWELL_REGISTRATIONS_PER_HOUR"},
		{c.ExportConcurrency, "export-concurrency", "INKWELL_EXPORT_CONCURRENCY"},
		{c.MaxConnections, "max-connections", "INKWELL_MAX_CONNECTIONS"},
	} {
		if n.v < 1 {
			bad(n.flag, n.variable, "must be at least 1, not %d", n.v)
		}
	}
	if c.DjangoJWTPublicKeyPath != "" && (c.DjangoJWTIssuer == "" || c.DjangoJWTAudience == "") {
		bad("django-jwt-public-key", "INKWELL_DJANGO_JWT_PUBLIC_KEY_PATH", "needs --django-jwt-issuer ($INKWELL_DJANGO_JWT_ISSUER) and --django-jwt-audience ($INKWELL_DJANGO_JWT_AUDIENCE) too")
	}
	if c.DjangoPasswordIterations < 0 || c.DjangoPasswordIterations > 10_000_000 {
		bad("django-password-iterations", "INKWELL_DJANGO_PASSWORD_ITERATIONS", "must be 0 to 10000000")
	}
	if c.HashConcurrency < 0 {
		bad("hash-concurrency", "INKWELL_HASH_CONCURRENCY", "must not be negative (0: the number of CPUs)")
	}
	if _, err := c.hashMemory(); err != nil {
		bad("hash-memory", "INKWELL_HASH_MEMORY", "%v", err)
	}
	if _, err := c.memoryLimit(); err != nil {
		bad("memory-limit", "INKWELL_MEMORY_LIMIT", "%v", err)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log-format", "INKWELL_LOG_FORMAT", "must be text or json, not %q", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("log-level", "INKWELL_LOG_LEVEL", "%v", err)
	}
	return errors.Join(errs...)
}

// checkDatabaseURL refuses a database URL Inkwell cannot use, saying which
// it can.
func checkDatabaseURL(u string) error {
	scheme, _, found := strings.Cut(u, "://")
	switch {
	case u == "", !found:
		return nil // the default SQLite file, or a SQLite path
	case scheme == "postgres", scheme == "postgresql":
		return checkURLs(u, scheme, false)
	}
	return fmt.Errorf("%s:// databases are not supported: give a postgres:// URL, or a path for a SQLite file (the default: inkwell.db in the data directory)", scheme)
}

// trustedProxies parses TrustedProxies.
func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an address or CIDR", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// minFreeDisk parses MinFreeDisk.
func (c *Config) minFreeDisk() (uint64, error) {
	n, err := humanize.ParseBytes(c.MinFreeDisk)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 64MiB", c.MinFreeDisk)
	}
	return n, nil
}

// snapshotCache parses SnapshotCache: the bytes of snapshots kept in
// memory, -1 for none (the event store's "none").
func (c *Config) snapshotCache() (int64, error) {
	n, err := humanize.ParseBytes(c.SnapshotCache)
	if err != nil || n > 1<<40 {
		return 0, fmt.Errorf("%q is not a size such as 16MiB (0: none)", c.SnapshotCache)
	}
	if n == 0 {
		return -1, nil
	}
	return int64(n), nil
}

// passwordParams returns argon2id's parameters for HashMemory (checked by
// check): those of every hash Inkwell makes, by the server or a command
// (createsuperuser), so that a login does not rehash what a command made.
func (c *Config) passwordParams() argon2id.Params {
	n, _ := c.hashMemory()
	return auth.HashParams(n)
}

// hashMemory parses HashMemory: the bytes of each password hash, a whole
// number of KiB from auth.MinHashMemory to 1 GiB.
func (c *Config) hashMemory() (int, error) {
	n, err := humanize.ParseBytes(c.HashMemory)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a size such as 7MiB", c.HashMemory)
	case n < auth.MinHashMemory || n > 1<<30:
		return 0, fmt.Errorf("%q must be from 7MiB (OWASP's least for argon2id) to 1GiB", c.HashMemory)
	case n%1024 != 0:
		return 0, fmt.Errorf("%q must be a whole number of KiB", c.HashMemory)
	}
	return int(n), nil
}

// corsOrigins parses CORSOrigins.
func (c *Config) corsOrigins() []string {
	var out []string
	for _, s := range strings.Split(c.CORSOrigins, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// storeConfig returns the event store's configuration.
func (c *Config) storeConfig(log *slog.Logger) eventstore.Config {
	snapshotCache, _ := c.snapshotCache() // checked by c.check
	return eventstore.Config{StreamName: c.NATSStream, SubjectPrefix: c.NATSSubjectPrefix, Replicas: c.NATSReplicas, Logger: log,
		SnapshotEvery: c.SnapshotEvery, SnapshotCacheBytes: snapshotCache}
}

// databaseURL returns the read-model database, the SQLite file by default.
func (c *Config) databaseURL() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return filepath.Join(c.DataDir, "inkwell.db")
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, fmt.Errorf("must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

// newLogger returns the process's logger.
func newLogger(c Config, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	lvl, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
