package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MinServerVersion is the oldest NATS server Inkwell supports: it needs
// consumers with several filter subjects (2.10).
const MinServerVersion = "2.10.0"

// CheckServer verifies that the connected server has JetStream enabled for
// this account and is at least MinServerVersion.
func CheckServer(ctx context.Context, nc *nats.Conn) error {
	v := nc.ConnectedServerVersion()
	if !versionAtLeast(v, MinServerVersion) {
		return fmt.Errorf("NATS server %s at %s is not supported: Inkwell needs NATS %s or later with JetStream",
			v, nc.ConnectedUrlRedacted(), MinServerVersion)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := whileClusterBusy(ctx, nil, "read the JetStream account", func() error {
		_, err := js.AccountInfo(ctx)
		return err
	}); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("NATS server at %s has JetStream disabled: start it with JetStream on (nats-server -js)",
				nc.ConnectedUrlRedacted())
		}
		return fmt.Errorf("NATS server at %s: JetStream account info: %w", nc.ConnectedUrlRedacted(), err)
	}
	return nil
}

// versionAtLeast compares dotted versions such as "2.10.14" (a pre-release
// suffix such as "-beta" counts as the release).
func versionAtLeast(v, min string) bool {
	parse := func(s string) [3]int {
		var out [3]int
		s, _, _ = strings.Cut(s, "-")
		for i, p := range strings.SplitN(s, ".", 3) {
			n, err := strconv.Atoi(p)
			if err != nil {
				return [3]int{}
			}
			out[i] = n
		}
		return out
	}
	a, b := parse(v), parse(min)
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

// EmbeddedConfig configures the NATS server Inkwell runs in-process.
type EmbeddedConfig struct {
	// StoreDir holds JetStream's files (e.g. <data dir>/nats).
	StoreDir string
	// Host and Port of the client listener, which lets Inkwell's command-line
	// tools reach a running server. Port -1 picks a free port; DontListen
	// runs without any listener.
	Host       string
	Port       int
	DontListen bool
	// Token is required from every client.
	Token string
	// Sync is how JetStream flushes its files to disk: "always" (fsync on
	// every append: an acknowledged event survives a power loss) or a
	// duration such as "2m" (the default: an acknowledged event survives a
	// crash of the process, not a power loss within that interval).
	Sync   string
	Logger *slog.Logger
}

// EmbeddedMaxStore is the embedded JetStream's storage limit: none that
// matters (1 PiB).
const EmbeddedMaxStore = 1 << 50

// StartEmbedded starts a NATS server with JetStream in this process.
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	opts := &server.Options{
		ServerName:    "inkwell-embedded",
		Host:          cfg.Host,
		Port:          cfg.Port,
		DontListen:    cfg.DontListen,
		JetStream:     true,
		StoreDir:      filepath.Clean(cfg.StoreDir),
		Authorization: cfg.Token,
		NoSigs:        true,
		MaxPayload:    MinMessageLimit, // every message Inkwell writes fits
		// No storage limit of JetStream's own: left unset, it is 75% of
		// the disk free at start, fixed for the life of the process, so a
		// log started on a nearly full disk would refuse writes for good
		// even after space is freed. Inkwell guards the disk itself (see
		// INKWELL_MIN_FREE_DISK).
		JetStreamMaxStore: EmbeddedMaxStore,
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	switch s := strings.TrimSpace(cfg.Sync); s {
	case "", "default":
	case "always":
		opts.SyncAlways = true
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("nats sync %q: want \"always\" or a duration such as 2m", s)
		}
		opts.SyncInterval = d
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(&natsLogger{l: cfg.Logger.With("component", "nats")}, false, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready after 30s")
	}
	return ns, nil
}

// connOptions are the options of every connection Inkwell makes.
//
// Nothing is buffered while the connection is down (ReconnectBufSize -1): a
// publish made then fails at once, certainly not sent, instead of being
// sent whenever the connection comes back, long after its request was
// answered. A server that stops answering (paused, or cut off without the
// connection closing) is noticed after three missed pings, 5s apart, and
// the client reconnects; requests meanwhile time out on their own (see
// Config.OpTimeout). The pings are not shorter: a busy machine would drop
// healthy connections.
func connOptions() []nats.Option {
	return []nats.Option{
		nats.Name("inkwell"),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
	}
}

// ErrorsTo makes a connection say the errors it meets outside a call (a
// subscription that fell behind and lost messages, a subject the server
// refused) in log, with the subject they are about, rather than as raw
// lines on standard error (nats.go's default).
func ErrorsTo(log *slog.Logger) nats.Option {
	if log == nil {
		log = slog.Default()
	}
	return nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		attrs := []any{"err", err}
		if sub != nil {
			attrs = append(attrs, "subject", sub.Subject)
		}
		log.Warn("the connection to NATS met an error outside a request", attrs...)
	})
}

// ConnectEmbedded connects to an embedded server in-process (no network),
// with opts after Inkwell's own.
func ConnectEmbedded(ns *server.Server, token string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append(append(connOptions(), nats.InProcessServer(ns), nats.Token(token), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond)), opts...)
	nc, err := nats.Connect(ns.ClientURL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect embedded nats: %w", err)
	}
	return nc, nil
}

// Connect connects to an external NATS server (or cluster) at url.
func Connect(url string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append(append(connOptions(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.Timeout(2*time.Second),
	), opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err)
	}
	return nc, nil
}

func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "***" + u[at:]
		}
	}
	return u
}

type natsLogger struct{ l *slog.Logger }

func (n *natsLogger) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Fatalf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Errorf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Debugf(format string, v ...any)  { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Tracef(format string, v ...any)  {}

// clusterRetry bounds how long a request to JetStream's API is sent again
// while a cluster cannot answer it: streams, consumers and the account are
// the meta leader's, and while a new one is elected (its node died) the
// request times out or is refused for now.
const clusterRetry = 30 * time.Second

// whileClusterBusy runs fn until it succeeds, fails otherwise than with a
// busy cluster (clusterBusy), or clusterRetry has passed, pausing half a
// second between tries. log, if not nil, says each retry at info level.
func whileClusterBusy(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	deadline := time.Now().Add(clusterRetry)
	for {
		err := fn()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) || !clusterBusy(err) {
			return err
		}
		if log != nil {
			log.Info("the NATS cluster cannot answer yet; asking again", "what", what, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// clusterBusy reports whether err is a JetStream request that timed out or
// was refused for now: a cluster electing a leader, or one still forming,
// whose meta leader does not know yet of enough servers to place a
// replicated stream on (nats-server's JSClusterNoPeersErr).
func clusterBusy(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) ||
		(errors.As(err, &apiErr) && (apiErr.Code == 503 || apiErr.ErrorCode == errCodeNoPeers))
}

// errCodeNoPeers is JetStream's "no suitable peers for placement".
const errCodeNoPeers jetstream.ErrorCode = 10005
