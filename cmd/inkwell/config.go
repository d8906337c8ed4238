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
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"inkwell/eventstore"
)

// Config is everything the binary can be told, from flags and INKWELL_*
// environment variables (a flag wins over its variable).
type Config struct {
	Addr    string
	DataDir string

	NATSURL           string
	NATSSync          string
	NATSReplicas      int
	NATSStream        string
	NATSSubjectPrefix string

	DatabaseURL string

	// MinFreeDisk is the free space under the data directory below which
	// the embedded event log refuses writes (503) instead of filling the
	// disk, as "64MiB" or a number of bytes.
	MinFreeDisk string
	// RequestTimeout bounds every request (the event stream aside).
	RequestTimeout time.Duration

	// ArticleDelete is who deletes articles: "owner" (the author or staff)
	// or "staff" (the tutorial's AdminAuth on delete).
	ArticleDelete string

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

	LogLevel  string
	LogFormat string
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		Addr:                 ":8000",
		DataDir:              "./data",
		NATSReplicas:         1,
		ArticleDelete:        "owner",
		NATSStream:           "INKWELL",
		NATSSubjectPrefix:    "inkwell.events",
		MinFreeDisk:          "64MiB",
		RequestTimeout:       15 * time.Second,
		JWTIssuer:            "inkwell",
		JWTAudience:          "inkwell-api",
		AccessTTL:            15 * time.Minute,
		RefreshTTL:           7 * 24 * time.Hour,
		LoginThrottleAfter:   5,
		AddressThrottleAfter: 20,
		LoginMaxBlock:        15 * time.Minute,
		RegistrationsPerHour: 20,
		LogLevel:             "info",
		LogFormat:            "text",
	}
}

// configFlags binds c's fields to flags of fs, each defaulting to its
// environment variable when that is set.
func configFlags(fs *flag.FlagSet, c *Config, getenv func(string) string) *[]error {
	var errs []error
	str := func(p *string, name, env, usage string) {
		if v := getenv(env); v != "" {
			*p = v
		}
		fs.StringVar(p, name, *p, usage+" ($"+env+")")
	}
	dur := func(p *time.Duration, name, env, usage string) {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("$%s: %q is not a positive duration such as 15m", env, v))
			} else {
				*p = d
			}
		}
		fs.DurationVar(p, name, *p, usage+" ($"+env+")")
	}
	num := func(p *int, name, env, usage string) {
		if v := getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("$%s: %q is not a number", env, v))
			} else {
				*p = n
			}
		}
		fs.IntVar(p, name, *p, usage+" ($"+env+")")
	}
	str(&c.Addr, "addr", "INKWELL_ADDR", "HTTP listen address")
	str(&c.DataDir, "data-dir", "INKWELL_DATA_DIR", "directory for the embedded event log, the SQLite read model and generated keys")
	str(&c.NATSURL, "nats-url", "INKWELL_NATS_URL", "external NATS server with JetStream (default: run one embedded)")
	str(&c.NATSSync, "nats-sync", "INKWELL_NATS_SYNC", `embedded NATS disk sync: "always" (survives power loss) or an interval such as 2m (survives a crash; the default)`)
	num(&c.NATSReplicas, "nats-replicas", "INKWELL_NATS_REPLICAS", "replicas of the event stream on a NATS cluster")
	str(&c.NATSStream, "nats-stream", "INKWELL_NATS_STREAM", "name of the JetStream stream holding the event log")
	str(&c.NATSSubjectPrefix, "nats-subject-prefix", "INKWELL_NATS_SUBJECT_PREFIX", "prefix of the event subjects: <prefix>.<aggregate>.<id>")
	str(&c.DatabaseURL, "database-url", "INKWELL_DATABASE_URL", "read-model database: postgres://... (default: SQLite file in the data directory)")
	str(&c.MinFreeDisk, "min-free-disk", "INKWELL_MIN_FREE_DISK", `free space under the data directory below which the embedded event log refuses writes, such as 64MiB or 1GB`)
	dur(&c.RequestTimeout, "request-timeout", "INKWELL_REQUEST_TIMEOUT", "longest a request may take before it answers 503 (the event stream aside)")
	str(&c.ArticleDelete, "article-delete", "INKWELL_ARTICLE_DELETE", `who deletes articles: "owner" (the author or staff) or "staff" only`)
	str(&c.JWTPrivateKeyPath, "jwt-private-key", "INKWELL_JWT_PRIVATE_KEY_PATH", "PEM RSA private key signing tokens (default: generated into the data directory)")
	str(&c.JWTPublicKeyPath, "jwt-public-key", "INKWELL_JWT_PUBLIC_KEY_PATH", "PEM RSA public key matching the private key")
	str(&c.JWTIssuer, "jwt-issuer", "INKWELL_JWT_ISSUER", "token issuer (iss)")
	str(&c.JWTAudience, "jwt-audience", "INKWELL_JWT_AUDIENCE", "token audience (aud)")
	dur(&c.AccessTTL, "access-ttl", "INKWELL_JWT_ACCESS_TTL", "access token lifetime")
	dur(&c.RefreshTTL, "refresh-ttl", "INKWELL_JWT_REFRESH_TTL", "refresh token lifetime")
	str(&c.CORSOrigins, "cors-origins", "INKWELL_CORS_ORIGINS", "comma-separated origins allowed to call the API from a browser (default: none, CORS off)")
	str(&c.TrustedProxies, "trusted-proxies", "INKWELL_TRUSTED_PROXIES", "comma-separated CIDRs of proxies whose X-Forwarded-For names the client")
	num(&c.LoginThrottleAfter, "login-throttle-after", "INKWELL_LOGIN_THROTTLE_AFTER", "failed logins per account and address before each further one blocks them (1s, 2s, 4s, ...)")
	num(&c.AddressThrottleAfter, "address-throttle-after", "INKWELL_ADDRESS_THROTTLE_AFTER", "failed logins per address, over all accounts, before throttling")
	dur(&c.LoginMaxBlock, "login-max-block", "INKWELL_LOGIN_MAX_BLOCK", "longest block after failed logins")
	num(&c.RegistrationsPerHour, "registrations-per-hour", "INKWELL_REGISTRATIONS_PER_HOUR", "registrations per client address and hour")
	num(&c.HashConcurrency, "hash-concurrency", "INKWELL_HASH_CONCURRENCY", "password hashes at once, 19 MiB each (default: twice the CPUs)")
	str(&c.LogLevel, "log-level", "INKWELL_LOG_LEVEL", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "INKWELL_LOG_FORMAT", "text or json")
	return &errs
}

// parseFlags parses a command's flags (registered on fs beforehand) and
// the shared configuration's, then checks the configuration. Positional
// arguments are refused.
func parseFlags(fs *flag.FlagSet, c *Config, args []string, getenv func(string) string) error {
	errs := configFlags(fs, c, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments: %v", fs.Name(), fs.Args())
	}
	if err := errors.Join(*errs...); err != nil {
		return err
	}
	return c.check()
}

// check validates the configuration after parsing.
func (c *Config) check() error {
	if c.DataDir == "" {
		return fmt.Errorf("the data directory must not be empty")
	}
	if (c.JWTPublicKeyPath != "") && c.JWTPrivateKeyPath == "" {
		return fmt.Errorf("INKWELL_JWT_PUBLIC_KEY_PATH needs INKWELL_JWT_PRIVATE_KEY_PATH too")
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		return fmt.Errorf("NATS replicas must be 1 to 5, not %d", c.NATSReplicas)
	}
	if c.NATSStream == "" || strings.ContainsAny(c.NATSStream, ". *>") {
		return fmt.Errorf("NATS stream name %q must be non-empty without dots, spaces or wildcards", c.NATSStream)
	}
	if c.NATSSubjectPrefix == "" || strings.ContainsAny(c.NATSSubjectPrefix, " *>") {
		return fmt.Errorf("NATS subject prefix %q must be non-empty without spaces or wildcards", c.NATSSubjectPrefix)
	}
	if _, err := c.minFreeDisk(); err != nil {
		return err
	}
	if c.ArticleDelete != "owner" && c.ArticleDelete != "staff" {
		return fmt.Errorf("article delete policy must be owner or staff, not %q", c.ArticleDelete)
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	if c.LoginThrottleAfter < 1 || c.AddressThrottleAfter < 1 || c.RegistrationsPerHour < 1 || c.HashConcurrency < 0 {
		return fmt.Errorf("throttle limits must be at least 1 (and hash concurrency not negative)")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log format must be text or json, not %q", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	return nil
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
		return 0, fmt.Errorf("minimum free disk %q is not a size such as 64MiB", c.MinFreeDisk)
	}
	return n, nil
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
	return eventstore.Config{StreamName: c.NATSStream, SubjectPrefix: c.NATSSubjectPrefix, Replicas: c.NATSReplicas, Logger: log}
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
		return l, fmt.Errorf("log level must be debug, info, warn or error, not %q", s)
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
