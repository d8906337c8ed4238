package eventstore

import (
	"bytes"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats-server/v2/server/archive"
)

// snapshotBytes writes a NATSARC1 snapshot as the server does: state,
// a consumer, messages at seqs, and the end-of-backup entry unless cut.
func snapshotBytes(t *testing.T, seqs []uint64, end bool) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := s2.NewWriter(&b)
	w := archive.NewWriter(enc)
	put := func(h archive.Header, body []byte) {
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if len(body) > 0 {
			if _, err := w.Write(body); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(archive.Header{Name: "state.json", PayloadSize: 2}, []byte("{}"))
	put(archive.Header{Name: "consumers/c", PayloadSize: 2}, []byte("{}"))
	for _, seq := range seqs {
		put(archive.Header{Name: "subject", Sequence: seq, PayloadSize: 3}, []byte("abc"))
	}
	if end {
		put(archive.Header{}, nil)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A snapshot is read back whole before it counts: its messages counted, a
// snapshot without its end-of-backup entry (cut short) or with a damaged
// frame refused.
func TestReadSnapshot(t *testing.T) {
	c, err := readSnapshot(bytes.NewReader(snapshotBytes(t, []uint64{3, 4, 7}, true)))
	if err != nil || !c.Archive || c.Messages != 3 || c.First != 3 || c.Last != 7 || c.Consumers != 1 {
		t.Fatalf("read %+v, %v", c, err)
	}
	if _, err := readSnapshot(bytes.NewReader(snapshotBytes(t, []uint64{1, 2}, false))); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("a snapshot without its end: %v", err)
	}
	damaged := snapshotBytes(t, []uint64{1, 2}, true)
	damaged[len(damaged)-3] ^= 0x55
	if _, err := readSnapshot(bytes.NewReader(damaged)); err == nil {
		t.Fatal("a damaged snapshot read back")
	}
	if _, err := readSnapshot(bytes.NewReader(snapshotBytes(t, []uint64{5, 4}, true))); err == nil {
		t.Fatal("a snapshot whose sequences go back read back")
	}
	sb := StreamBackup{Role: RoleLog, FirstSeq: 1, LastSeq: 3, Messages: 3}
	if err := (snapshotContent{Messages: 2, First: 1, Last: 3}).holds(sb); err == nil {
		t.Fatal("a snapshot of the log without one of its messages was accepted")
	}
	sb.Role = RoleIdempotency
	if err := (snapshotContent{Messages: 2, First: 1, Last: 3}).holds(sb); err != nil {
		t.Fatalf("a bucket's key expired while its snapshot was taken: %v", err)
	}
}
