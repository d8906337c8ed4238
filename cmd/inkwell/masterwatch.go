package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"inkwell/auth"
)

// masterKeyObserver records whether the master key file still holds the
// key this process started with (metrics).
type masterKeyObserver interface {
	SetMasterKeyFile(ok bool)
}

// masterKeyCheckEvery is how often a server reads its master key file
// again.
const masterKeyCheckEvery = 5 * time.Second

// masterKeyRemind is how often a master key file that is still wrong is
// said again.
const masterKeyRemind = 10 * time.Minute

// watchMasterKey reads the master key file at path every
// masterKeyCheckEvery until ctx ends, and says when it no longer holds
// master, the key this process started with (it goes on with that one,
// which it holds in memory). A file removed or replaced while servers run
// would otherwise be noticed only at the next start, when every instance of
// a rolling restart would refuse to start.
func watchMasterKey(ctx context.Context, path string, master *auth.MasterKey, log *slog.Logger, obs masterKeyObserver) {
	t := time.NewTicker(masterKeyCheckEvery)
	defer t.Stop()
	var was string // what was last said wrong with the file ("" while it is right)
	var said time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wrong := masterKeyFileProblem(path, master)
		obs.SetMasterKeyFile(wrong == "")
		switch {
		case wrong == "" && was != "":
			log.Info("the master key file holds this instance's master key again", "path", path)
		case wrong != "" && (wrong != was || time.Since(said) >= masterKeyRemind):
			log.Error("the master key file "+wrong+": this instance goes on with the key it read at start, "+
				"but no instance can start with the file as it is (a restart would refuse to); put the original back from its backup "+
				"(--master-key, $INKWELL_MASTER_KEY_PATH)", "path", path)
			said = time.Now()
		}
		was = wrong
	}
}

// masterKeyFileProblem says what is wrong with the master key file at path
// for a process that started with master ("" when nothing is).
func masterKeyFileProblem(path string, master *auth.MasterKey) string {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "is gone"
	}
	key, _, err := auth.LoadOrGenerateMasterKey(path, false)
	switch {
	case err != nil:
		return fmt.Sprintf("cannot be read (%v)", err)
	case !key.Equal(master):
		return "holds another key than the one this instance started with"
	}
	return ""
}
