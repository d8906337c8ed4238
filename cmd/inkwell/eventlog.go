package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"inkwell/auth"
	"inkwell/eventstore"
)

// Files in the data directory that coordinate processes sharing it.
const (
	lockFile     = "inkwell.lock" // held by the process running the embedded NATS server
	natsInfoFile = "nats.json"    // how other processes reach that server
)

// eventLog is this process's connection to the event log, and the embedded
// NATS server when this process runs it.
type eventLog struct {
	NC       *nats.Conn
	server   *server.Server
	storeDir string // the embedded server's
	lock     *os.File
	infoPath string
	// master wraps the secrets kept in NATS (see openMasterKey).
	master *auth.MasterKey
	// keys are the data keys of personal data, wrapped by master.
	keys *eventstore.Keyring
	// stop ends what follows the log's buckets (the data keys' watch).
	stop context.CancelFunc
}

type natsInfo struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// openEventLog connects to the event log. With INKWELL_NATS_URL it is that
// external server. Otherwise the NATS server runs embedded, with its store
// in the data directory: the first process to take the data directory's lock
// runs it (listening on 127.0.0.1 with a random port and a token written to
// nats.json, mode 0600); a tool started while a server runs connects to it
// instead of opening the store a second time. A server (listen true) refuses
// to start when another process holds the lock.
func openEventLog(ctx context.Context, cfg Config, logger *slog.Logger, listen bool) (*eventLog, error) {
	if cfg.NATSURL != "" {
		// Reached before the data directory is made: nothing is written
		// for a server that is not there.
		nc, err := connectExternal(ctx, cfg, logger)
		if err != nil {
			return nil, err
		}
		if err := ensureDataDir(cfg); err != nil {
			nc.Close()
			return nil, err
		}
		return &eventLog{NC: nc}, nil
	}
	if err := ensureDataDir(cfg); err != nil {
		return nil, err
	}
	lock, err := tryLock(filepath.Join(cfg.DataDir, lockFile))
	if errors.Is(err, errLocked) {
		if listen {
			return nil, fmt.Errorf("another Inkwell process is serving the data directory %s (it holds %s); stop it or use another --data-dir", cfg.DataDir, lockFile)
		}
		return connectRunning(ctx, cfg.DataDir)
	} else if err != nil {
		return nil, err
	}

	token := randomHex(24)
	storeDir := filepath.Join(cfg.DataDir, "nats")
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{
		StoreDir:   storeDir,
		Host:       "127.0.0.1",
		Port:       -1,
		DontListen: !listen,
		Token:      token,
		Sync:       cfg.NATSSync,
		Logger:     logger,
	})
	if err != nil {
		lock.Close()
		return nil, err
	}
	l := &eventLog{server: ns, storeDir: storeDir, lock: lock}
	if listen {
		addr := ns.Addr()
		if addr == nil {
			l.Close()
			return nil, errors.New("embedded nats: no listener address")
		}
		info, _ := json.Marshal(natsInfo{URL: "nats://" + addr.String(), Token: token})
		l.infoPath = filepath.Join(cfg.DataDir, natsInfoFile)
		if err := writePrivateFile(l.infoPath, info); err != nil {
			l.Close()
			return nil, err
		}
	}
	if l.NC, err = eventstore.ConnectEmbedded(ns, token, eventstore.ErrorsTo(logger)); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// connectExternal connects to the external NATS server at --nats-url.
// One that cannot be reached yet (not started, or restarting: refused,
// closed, unknown to DNS) is tried again, each attempt said in the log,
// for up to --nats-wait: NATS and Inkwell are often started together
// (compose, a cluster's nodes), and an orchestrator restarting Inkwell
// each tenth of a second says less than one line a try. The wait is
// bounded, a minute by default, so that a URL that will never answer ends
// in an error naming the setting rather than in a silent hang; once
// running, Inkwell reconnects to NATS for as long as it takes. An error
// that retrying cannot mend (a refused token, a URL that does not parse)
// stops at once.
func connectExternal(ctx context.Context, cfg Config, log *slog.Logger) (*nats.Conn, error) {
	start := time.Now()
	pause := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		nc, err := eventstore.Connect(cfg.NATSURL, eventstore.ErrorsTo(log))
		if err == nil {
			if attempt > 1 {
				log.Info("reached NATS", "url", redactURL(cfg.NATSURL), "attempts", attempt, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nc, nil
		}
		waited := time.Since(start)
		left := cfg.NATSWait - waited
		if !unreachable(err) || left <= 0 {
			hint := "check the URL and its credentials"
			if unreachable(err) {
				hint = fmt.Sprintf("gave up after %v, %d attempt(s) (%s): is it running, and is the URL right?", waited.Round(time.Millisecond), attempt, settingNATSWait)
			}
			return nil, redactErr(fmt.Errorf("the event log's NATS server (%s): %w; %s", settingNATSURL, err, hint), cfg.NATSURL)
		}
		log.Warn("waiting for NATS: it cannot be reached yet; trying again",
			"url", redactURL(cfg.NATSURL), "attempt", attempt, "err", redact(err.Error(), cfg.NATSURL),
			"gives_up_in", left.Round(100*time.Millisecond), "setting", settingNATSWait)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for NATS at %s (%s): %w", redactURL(cfg.NATSURL), settingNATSURL, ctx.Err())
		case <-time.After(min(pause, left)):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// unreachable reports whether err, from a connection to NATS, says the
// server could not be reached (yet) rather than that it refused Inkwell.
func unreachable(err error) bool {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Op == "parse" {
		return false
	}
	var oe *net.OpError
	var de *net.DNSError
	return errors.Is(err, nats.ErrNoServers) || errors.Is(err, io.EOF) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &oe) || errors.As(err, &de)
}

// wrongMasterKeyError is the secrets in NATS refusing the master key at
// path: one sentence of what is wrong and what to do, whatever the layers
// below said on the way up (errors.Is still sees auth.ErrWrongMasterKey).
type wrongMasterKeyError struct {
	path string
	err  error
}

func wrongMasterKey(path string, err error) error { return &wrongMasterKeyError{path: path, err: err} }

func (e *wrongMasterKeyError) Error() string {
	return fmt.Sprintf("the secrets kept in NATS are wrapped by another master key than %s (%s): "+
		"start with the master key file this event log was written with (every instance reads the same one; restore it from its backup if it is lost)",
		e.path, settingMasterKey)
}

func (e *wrongMasterKeyError) Unwrap() error { return e.err }

// ensureDataDir creates the data directory (mode 0700) if it does not
// exist: it holds the SQLite read model and generated keys whichever event
// log is used, and the embedded event log. What it holds (emails, password
// hashes, drafts, the signing key) is for Inkwell's user alone: a directory
// that already exists is tightened to 0700, and everything in it to 0700
// (directories) or 0600 (files), as every file Inkwell writes there is
// created. A mode that cannot be tightened stops the start, naming the path
// and the fix.
func ensureDataDir(cfg Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return dataDirError("create the data directory", cfg.DataDir, err)
	}
	// A file may go while the walk runs (a running server's event log
	// compacts): what is gone needs no tightening.
	gone := func(err error) bool { return errors.Is(err, fs.ErrNotExist) }
	return filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
		if gone(err) {
			return nil
		}
		if err != nil {
			return dataDirError("read the data directory", cfg.DataDir, err)
		}
		if d.Type()&fs.ModeSymlink != 0 || !(d.IsDir() || d.Type().IsRegular()) {
			return nil // not followed; sockets and the like are not Inkwell's
		}
		info, err := d.Info()
		if gone(err) {
			return nil
		}
		if err != nil {
			return dataDirError("read the data directory", cfg.DataDir, err)
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm()&0o077 == 0 {
			return nil
		}
		if err := os.Chmod(path, want|info.Mode().Perm()&0o700); err != nil && !gone(err) {
			return fmt.Errorf("%s is readable by other local users (mode %04o) and cannot be made private (%w): run chmod -R go-rwx %s as its owner, or use another --data-dir",
				path, info.Mode().Perm(), err, cfg.DataDir)
		}
		return nil
	})
}

// openStore opens the event log (see openEventLog) and the store on it,
// sealing and opening personal data with the data keys (see openMasterKey;
// makeMaster lets it make the master key file at --master-key).
func openStore(ctx context.Context, cfg Config, logger *slog.Logger, listen, makeMaster bool) (*eventLog, *eventstore.Store, error) {
	el, err := openEventLog(ctx, cfg, logger, listen)
	if err != nil {
		return nil, nil, redactErr(err, cfg.NATSURL)
	}
	store, err := eventstore.Open(ctx, el.NC, cfg.storeConfig(logger))
	if err == nil {
		el.master, err = openMasterKey(ctx, cfg, store, logger, makeMaster)
	}
	if err == nil {
		var keys *eventstore.Keyring
		var follow context.Context
		follow, el.stop = context.WithCancel(context.WithoutCancel(ctx))
		if keys, err = store.OpenDataKeys(follow, el.master, 0); err == nil {
			err = keys.Verify(ctx)
		}
		if errors.Is(err, auth.ErrWrongMasterKey) {
			err = wrongMasterKey(masterKeyPath(cfg), err)
		} else if err != nil {
			err = fmt.Errorf("the data keys wrapped by the master key %s (%s): %w", masterKeyPath(cfg), settingMasterKey, err)
		} else {
			el.keys = keys
			store.UsePersonalData(keys, el.master.Derive(claimKeyLabel))
		}
	}
	if err != nil {
		el.Close()
		return nil, nil, redactErr(err, cfg.NATSURL)
	}
	return el, store, nil
}

// claimKeyLabel derives the key of the claims' names from the master key.
const claimKeyLabel = "inkwell claim names"

// masterKeyPath is where the master key is: --master-key, else master.key
// in the data directory.
func masterKeyPath(cfg Config) string {
	if cfg.MasterKeyPath != "" {
		return cfg.MasterKeyPath
	}
	return filepath.Join(cfg.DataDir, auth.MasterKeyFile)
}

// openMasterKey reads the master key, which wraps the secrets Inkwell keeps
// in NATS (data keys, signing keys). The data directory's is generated on
// first start, but never while NATS holds secrets wrapped by a master key:
// those would no longer open. One at --master-key is made only when
// makeMaster is set (inkwell keys init).
func openMasterKey(ctx context.Context, cfg Config, store *eventstore.Store, log *slog.Logger, makeMaster bool) (*auth.MasterKey, error) {
	path, generate := masterKeyPath(cfg), makeMaster
	if cfg.MasterKeyPath == "" && !generate {
		n, err := store.WrappedSecrets(ctx)
		if err != nil {
			return nil, err
		}
		generate = n == 0
	}
	master, generated, err := auth.LoadOrGenerateMasterKey(path, generate)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, settingMasterKey)
	}
	if generated {
		log.Info("generated the master key that wraps the data keys and signing keys kept in NATS: back it up", "path", path)
	}
	return master, nil
}

// connectRunning connects to the embedded server of the process that holds
// the data directory's lock.
func connectRunning(ctx context.Context, dir string) (*eventLog, error) {
	path := filepath.Join(dir, natsInfoFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var info natsInfo
			if err := json.Unmarshal(b, &info); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			nc, err := eventstore.Connect(info.URL, nats.Token(info.Token), nats.MaxReconnects(5))
			if err != nil {
				return nil, fmt.Errorf("reach the running Inkwell server's event log: %w", err)
			}
			return &eventLog{NC: nc}, nil
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return nil, fmt.Errorf("a running Inkwell process holds %s but its %s cannot be read: %w", dir, natsInfoFile, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close closes the connection and stops the embedded server, if any.
func (l *eventLog) Close() {
	if l.stop != nil {
		l.stop()
	}
	if l.NC != nil {
		_ = l.NC.Drain()
		l.NC.Close()
	}
	if l.infoPath != "" {
		_ = os.Remove(l.infoPath)
	}
	if l.server != nil {
		l.server.Shutdown()
		l.server.WaitForShutdown()
	}
	if l.lock != nil {
		// Unlock explicitly: a child process forked at this moment may hold
		// a copy of the descriptor until it execs, and closing ours alone
		// would leave the lock held through that copy.
		_ = syscall.Flock(int(l.lock.Fd()), syscall.LOCK_UN)
		l.lock.Close()
	}
}

var errLocked = errors.New("locked")

// tryLock takes an exclusive advisory lock on path without waiting.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return f, nil
}

func writePrivateFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
