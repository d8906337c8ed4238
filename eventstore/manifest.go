// A backup's layout: its files, its streams' roles and order, and the signed manifest.

package eventstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A backup is a directory:
//
//	inkwell-backup.json         the manifest (Manifest), signed with a key of the master key
//	streams/<stream>/backup.json     the stream's config and state  } the nats tool's format:
//	streams/<stream>/stream.tar.s2   its JetStream snapshot         } nats account restore streams
//
// It holds the log's stream and every stream Inkwell keeps beside it (its
// buckets and dead letters: every stream named after the configured one,
// see ownStreams), each snapshotted by JetStream while the servers run.
// JetStream snapshots one stream at a time, so the backup is made
// consistent by their order (backupOrder): what refers to the log's events
// is taken before the log, what the log's events need after it.

// BackupFormat is the version of the manifest's format this build writes
// and reads.
const BackupFormat = 1

// ManifestKeyLabel derives the key that signs a backup's manifest from the
// master key (auth.MasterKey.Derive): a backup changed by anyone without
// the master key is refused, and so is a restore with another master key,
// before anything is restored.
const ManifestKeyLabel = "inkwell backup manifest"

// Names of a backup's files.
const (
	ManifestFile = "inkwell-backup.json"
	StreamsDir   = "streams"
	metaFile     = "backup.json"   // as the nats tool names it
	dataFile     = "stream.tar.s2" // likewise
)

// Roles of the streams of a backup, by what they hold.
const (
	RoleLog         = "event log"
	RoleLogPointer  = "log pointer"
	RoleDeadLetters = "dead letters"
	RoleIdempotency = "idempotency records"
	RoleThrottles   = "throttle counters"
	RoleSigningKeys = "signing keys"
	RoleDataKeys    = "data keys"
	RoleOther       = "other"
	roleOldLog      = "an earlier log" // left by inkwell events encrypt: not backed up
)

// backupOrder is the order streams are snapshotted in, by role. Each
// snapshot is of its stream at one moment, later than the one before:
//
//   - the dead letters, the idempotency records (an answer names an event)
//     and anything else kept beside the log come before it, so that what
//     they name is in the log's snapshot, taken after (a record written
//     after the log's snapshot would answer a retry for an event the backup
//     lacks);
//   - the log pointer comes before the log, and the backup fails if the
//     log was switched meanwhile (the pointer in the backup names the log
//     in it);
//   - the signing keys and the data keys come after the log: every sealed
//     event of the log's snapshot was sealed with a key made before it, so
//     the keys' snapshot holds it (or its destruction, an erasure the
//     restore honours).
var backupOrder = []string{RoleDeadLetters, RoleIdempotency, RoleThrottles, RoleOther, RoleLogPointer, RoleLog, RoleSigningKeys, RoleDataKeys}

// streamRole says what stream name holds, for the log configured as base
// and now in log.
func streamRole(name, base string, log LogPointer) string {
	switch name {
	case log.Stream:
		return RoleLog
	case "KV_" + base + "_LOG":
		return RoleLogPointer
	case base + "_DEADLETTER":
		return RoleDeadLetters
	case "KV_" + base + "_IDEMPOTENCY":
		return RoleIdempotency
	case "KV_" + base + "_THROTTLES":
		return RoleThrottles
	case "KV_" + base + "_KEYS":
		return RoleSigningKeys
	case "KV_" + base + "_DATAKEYS":
		return RoleDataKeys
	case base:
		return roleOldLog
	}
	if rest, ok := strings.CutPrefix(name, base+"_"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
		return roleOldLog
	}
	return RoleOther
}

// Manifest describes a backup: what made it, when, and each stream with
// the checksums of its files.
type Manifest struct {
	Format int `json:"format"`
	// Inkwell is the build that took the backup.
	Inkwell BuildInfo `json:"inkwell"`
	// NATSServer is the version of the server the backup was taken from;
	// its snapshots restore into that version or a later one.
	NATSServer string    `json:"nats_server"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// StreamName and SubjectPrefix are the log's as configured: the
	// buckets are named after StreamName.
	StreamName    string `json:"stream_name"`
	SubjectPrefix string `json:"subject_prefix"`
	// Log is the stream holding the log and its subject prefix.
	Log LogPointer `json:"log"`
	// Streams are in the order they were snapshotted.
	Streams []StreamBackup `json:"streams"`
	// Skipped names streams of earlier logs that were not backed up.
	Skipped []string `json:"skipped,omitempty"`
}

// BuildInfo identifies a build of Inkwell.
type BuildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
	Go       string `json:"go"`
}

// StreamBackup is one stream of a backup.
type StreamBackup struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Dir is the stream's directory in the backup (streams/<name>).
	Dir string `json:"dir"`
	// FirstSeq, LastSeq, Messages and Bytes are the stream's state when its
	// snapshot began, as JetStream gave it.
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	Consumers int    `json:"consumers"`
	// Archived is how many messages the snapshot holds, read back (a key
	// that expired or was deleted while it was taken is not there);
	// absent for a snapshot of an older server, which holds files.
	Archived *uint64 `json:"archived,omitempty"`
	// Config is the stream's configuration.
	Config json.RawMessage `json:"config"`
	Files  []BackupFile    `json:"files"`
	// Took is how long its snapshot took, in seconds.
	Took float64 `json:"took_s"`
}

// BackupFile is a file of a backup, with its size and SHA-256.
type BackupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// signedManifest is the manifest file: the manifest and an HMAC-SHA256 of
// its exact bytes, keyed from the master key, so that a manifest (and
// through its checksums every file) changed by anyone without the master
// key is refused, and a restore with another master key is refused before
// anything is restored.
type signedManifest struct {
	Manifest json.RawMessage `json:"manifest"`
	HMAC     string          `json:"hmac_sha256"`
}

// writeManifest signs m with key and writes it into dir, atomically (a
// temporary file renamed), synced with its directory.
func writeManifest(dir string, m *Manifest, key []byte) error {
	body, err := json.MarshalIndent(m, "  ", "  ")
	if err != nil {
		return err
	}
	signed, err := json.MarshalIndent(signedManifest{Manifest: body, HMAC: hex.EncodeToString(manifestMAC(key, body))}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if _, err := writeFile(tmp, func(w io.Writer) error {
		_, err := w.Write(append(signed, '\n'))
		return err
	}); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return err
	}
	return syncDir(dir)
}

// manifestMAC is the HMAC-SHA256 of a manifest's bytes.
func manifestMAC(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("inkwell backup manifest\n"))
	h.Write(body)
	return h.Sum(nil)
}
