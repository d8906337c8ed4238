package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/auth"
	"inkwell/eventstore"
)

// keyLeeway is how long after its expiry a token is still accepted (the
// verifier's leeway), added to the longest lifetime before a key retires.
const keyLeeway = 30 * time.Second

// openKeyring opens the key set every instance shares, in NATS: its
// private keys wrapped by the master key (--master-key, else master.key in
// the data directory, generated there on first start). An empty set gets
// the pair this data directory signed with before keys were shared (so its
// tokens stay valid), else a new one.
func openKeyring(ctx context.Context, cfg Config, el *eventLog, store *eventstore.Store, log *slog.Logger) (*auth.Keyring, error) {
	return openKeys(ctx, cfg, el.master, store, log, true)
}

// openKeys opens the key set, wrapped by master; makeFirst lets it make a
// first signing key.
func openKeys(ctx context.Context, cfg Config, master *auth.MasterKey, store *eventstore.Store, log *slog.Logger, makeFirst bool) (*auth.Keyring, error) {
	bucket, err := store.OpenKeys(ctx)
	if err != nil {
		return nil, err
	}
	first, err := auth.LoadKeys(filepath.Join(cfg.DataDir, auth.PrivateKeyFile), filepath.Join(cfg.DataDir, auth.PublicKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		first, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	set := auth.NewKeySet(time.Now, cfg.RefreshTTL+keyLeeway)
	if !makeFirst {
		return auth.LoadKeyring(ctx, bucket, master, set, log)
	}
	return auth.OpenKeyring(ctx, bucket, master, set, first, log)
}

// rotateNotice is the default time between a rotation and the new key's
// first signature: one lifetime of the JWKS in a verifier's cache, and a
// minute for clocks that differ and fetches that take time.
const rotateNotice = auth.JWKSMaxAge + time.Minute

// keysCommand groups the commands on the signing keys.
func (a *app) keysCommand() *ffcli.Command {
	var in time.Duration
	return a.group("inkwell keys", "inkwell keys init|list|rotate [flags]",
		"init: the master key and the first signing key; list: the signing keys every instance shares; rotate: add a new one",
		a.keysLeaf("init", "make the master key file (if it does not exist) and the first signing key (if there is none)",
			"Run it once before the first instance starts, where every instance reads the master key (--master-key).", nil, nil),
		a.keysLeaf("list", "the signing keys every instance shares, and where each stands", "", nil, nil),
		a.keysLeaf("rotate", "add a new signing key that every instance signs with soon, and delete the retired ones",
			"The key is published (JWKS) at once and signs from --in on; tokens of the keys before it are\naccepted until they expire, then those keys retire. The default --in is one lifetime of the\nJWKS in a verifier's cache (its Cache-Control max-age) and a minute: a verifier that fetched\nthe key set just before the rotation knows the new key before any token is signed with it.",
			func(fs *flag.FlagSet) {
				fs.DurationVar(&in, "in", rotateNotice, "when the new key starts signing: time for every instance, and every verifier caching the JWKS, to know it first")
			},
			func(ctx context.Context, ring *auth.Keyring) error {
				if in < 0 {
					return usagef("keys rotate: --in must not be negative")
				}
				if in < auth.JWKSMaxAge {
					fmt.Fprintf(a.stderr, "warning: --in %v is shorter than the JWKS's cache lifetime (%v): a verifier that caches it may refuse the new key's tokens for up to %v\n",
						in, auth.JWKSMaxAge, auth.JWKSMaxAge-in)
				}
				e, retired, err := ring.Rotate(ctx, time.Now().Add(in))
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "added %s (signs from %s)\n", e.KID, e.SigningFrom.Format(time.RFC3339))
				for _, kid := range retired {
					fmt.Fprintf(a.stdout, "deleted %s: retired\n", kid)
				}
				return nil
			}))
}

// keysLeaf is the command inkwell keys <name>: it opens the event log and
// the key set (init alone makes what is missing: the master key file and a
// first signing key), runs act (if any) and lists the keys.
func (a *app) keysLeaf(name, help, long string, flags func(*flag.FlagSet), act func(context.Context, *auth.Keyring) error) *ffcli.Command {
	return a.command(leaf{
		path: "inkwell keys " + name, usage: "inkwell keys " + name + " [flags]", help: help, long: long,
		groups: []group{groupData, groupEventLog, groupKeys, groupLog},
		flags:  flags,
		run: func(ctx context.Context, cfg Config) error {
			log := newLogger(cfg, a.stderr)
			el, store, err := openStore(ctx, cfg, log, false, name == "init")
			if err != nil {
				return err
			}
			defer el.Close()
			ring, err := openKeys(ctx, cfg, el.master, store, log, name == "init")
			if err != nil {
				return err
			}
			if act != nil {
				if err := act(ctx, ring); err != nil {
					return err
				}
			}
			writeKeys(a.stdout, ring.Set.States())
			return nil
		},
	})
}

func writeKeys(w io.Writer, states []auth.KeyState) {
	if len(states) == 0 {
		fmt.Fprintln(w, "no signing keys yet: inkwell keys init (or the first server) stores one")
	}
	for _, st := range states {
		fmt.Fprintf(w, "%s\t%s\tcreated %s\tsigns from %s", st.KID, st.State, st.CreatedAt.Format(time.RFC3339), st.SigningFrom.Format(time.RFC3339))
		if !st.RetiresAt.IsZero() {
			fmt.Fprintf(w, "\tretires %s", st.RetiresAt.Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	}
}
