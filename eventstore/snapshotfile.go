// A snapshot file read back whole: what it holds, and whether that is what its stream had.

package eventstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats-server/v2/server/archive"
)

// snapshotContent is what a snapshot file holds, as read back whole.
type snapshotContent struct {
	// Archive is true for a NATSARC1 archive (NATS 2.14 and later), false
	// for a tar of the store's files, whose messages are not counted.
	Archive bool
	// Messages, First and Last are the archive's messages and the
	// sequences of its first and last.
	Messages, First, Last uint64
	// Consumers is how many consumers it holds.
	Consumers int
}

// readSnapshot reads a snapshot file to its end and says what it holds: a
// file cut short, or whose compressed frames do not check (S2 has a
// checksum per frame), is an error. A NATSARC1 archive must end with its
// end-of-backup entry.
func readSnapshot(r io.Reader) (snapshotContent, error) {
	var c snapshotContent
	br := bufio.NewReaderSize(s2.NewReader(r), 1<<20)
	magic, err := br.Peek(len(archive.MagicBytes))
	if err != nil {
		return c, fmt.Errorf("not a JetStream snapshot: %w", err)
	}
	if !bytes.Equal(magic, []byte(archive.MagicBytes)) {
		// A tar of the store's files (older servers): read it through,
		// which checks every frame's checksum.
		if _, err := io.Copy(io.Discard, br); err != nil {
			return c, fmt.Errorf("the snapshot does not read back: %w", err)
		}
		return c, nil
	}
	c.Archive = true
	ar := archive.NewReader(br)
	for {
		h, err := ar.Next()
		if errors.Is(err, io.EOF) {
			return c, errors.New("the snapshot is cut short: it lacks its end-of-backup entry")
		} else if err != nil {
			return c, fmt.Errorf("the snapshot does not read back: %w", err)
		}
		switch {
		case h.Sequence != 0:
			if h.Sequence <= c.Last {
				return c, fmt.Errorf("the snapshot's message %d comes after %d", h.Sequence, c.Last)
			}
			if c.Messages == 0 {
				c.First = h.Sequence
			}
			c.Messages++
			c.Last = h.Sequence
		case h.Name == "" && h.Timestamp == 0 && h.HeaderSize == 0 && h.PayloadSize == 0:
			// The end-of-backup entry: nothing may follow it.
			if _, err := ar.Next(); !errors.Is(err, io.EOF) {
				return c, errors.New("the snapshot goes on after its end-of-backup entry")
			}
			return c, nil
		case len(h.Name) > len("consumers/") && h.Name[:len("consumers/")] == "consumers/":
			c.Consumers++
		}
	}
}

// holds checks that a snapshot read back holds the messages its stream
// had: every one for the log (whose messages are never deleted), at most
// them for a bucket (whose keys expire and are deleted), never one past
// the stream's last sequence.
func (c snapshotContent) holds(sb StreamBackup) error {
	if c.Messages > 0 && (c.First < sb.FirstSeq || c.Last > sb.LastSeq) {
		return fmt.Errorf("it holds sequences %d to %d, outside the stream's %d to %d", c.First, c.Last, sb.FirstSeq, sb.LastSeq)
	}
	if c.Messages > sb.Messages || sb.Role == RoleLog && c.Messages != sb.Messages {
		return fmt.Errorf("it holds %d messages, the stream %d", c.Messages, sb.Messages)
	}
	return nil
}

// readSnapshotFile reads a snapshot file back whole (see readSnapshot).
func readSnapshotFile(path string) (snapshotContent, error) {
	f, err := os.Open(path)
	if err != nil {
		return snapshotContent{}, err
	}
	defer f.Close()
	return readSnapshot(f)
}
