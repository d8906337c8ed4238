package eventstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Destroyed returns the users whose data key the bucket holds destroyed
// (Destroy). It reads the bucket's current values in one pass, as a watch
// of it begins (not one request per key).
func (k *Keyring) Destroyed(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var w jetstream.KeyWatcher
	err := whileClusterBusy(ctx, nil, "read the data key bucket", func() error {
		var err error
		w, err = k.bucket.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
		return err
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("data key bucket: %w", err))
	}
	defer w.Stop()
	var out []string
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, unavailable(fmt.Errorf("data key bucket: the watch ended before its first values"))
			}
			if e == nil { // the end of the current values
				return out, nil
			}
			if bytes.Equal(e.Value(), destroyedKey) {
				out = append(out, e.Key())
			}
		}
	}
}
