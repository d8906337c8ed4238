package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore/eventstoretest"
	"inkwell/testkit"
)

// BenchmarkExport exports one user's history through the real server (HTTP,
// the read models on SQLite, the log on the NATS server of
// INKWELL_TEST_NATS_URL, a process of its own whose memory is not counted;
// without it, one started in this process, whose caches are) and reports
// what an export costs as that history grows a hundredfold: its time (MB/s:
// of the document sent), and, from one more export after the timed ones,
// the memory it takes beyond what the server held before it, sampled every
// millisecond while it runs:
//
//   - peak-heap-MiB: the most the heap in use (HeapInuse: garbage not yet
//     collected included) grew by, with the collector kept close to the
//     live heap (GOGC=10) for that export: left at its default, Go lets the
//     heap grow to twice its live size before it collects, and the figure
//     would be the server's own heap, not the export's;
//   - peak-live-MiB: the most the live heap (what a collection found
//     reachable) grew by: what the export held.
//
// The history is an article whose 100,000-character content is edited again
// and again (through the commands, as the API makes them), and a bio edited
// a tenth as many times: 1 MB, 10 MB and 100 MB of events; "scattered", the
// 100 MB are every other event of a log of 200 MB (another user edits as
// much meanwhile), which the log's store cannot read as a sequence. Run it as
//
//	INKWELL_TEST_NATS_URL=nats://127.0.0.1:14222 go test ./cmd/inkwell -run '^$' -bench BenchmarkExport -benchtime 3x -count 5 -timeout 60m
func BenchmarkExport(b *testing.B) {
	for _, h := range []struct {
		name      string
		edits     int
		scattered bool
	}{{"history=1MB", 10, false}, {"history=10MB", 100, false}, {"history=100MB", 1000, false}, {"history=100MB/scattered", 1000, true}} {
		b.Run(h.name, func(b *testing.B) {
			// The history is written through one server, and exported
			// through another started on its data, once the first is gone:
			// the writes' caches (the commands' aggregates) are not in the
			// heap the export is measured against.
			dir, natsURL, stream := b.TempDir(), eventstoretest.ExternalURL(b), "T"+eventstoretest.RandomName()
			b.Cleanup(func() { eventstoretest.DeleteStreams(b, natsURL, stream) })
			config := func(c *main.Config) {
				c.DataDir, c.NATSURL, c.NATSStream, c.NATSSubjectPrefix = dir, natsURL, stream, "test."+stream
			}
			writer := &scopedTB{TB: b}
			token := exportHistory(writer, startServer(writer, config), h.edits, h.scattered)
			writer.end()
			s := startServer(b, config)
			// Right after a start, the server reads the whole log once in
			// the background, and on this machine a request may meet the
			// log busy with it (503) for some seconds.
			testkit.WaitFor(b, 2*time.Minute, "the user's account readable", func() bool {
				return s.request(b, "GET", "/api/auth/me/", token, nil).Status == http.StatusOK
			})
			client := &http.Client{} // no timeout: the export is as long as the history
			var size int64
			b.ResetTimer()
			for range b.N {
				size = exportOnce(b, client, s, token)
			}
			b.StopTimer()
			b.SetBytes(size)
			b.ReportMetric(float64(size)/1e6, "export-MB")

			defer debug.SetGCPercent(debug.SetGCPercent(10))
			runtime.GC()
			stop := sampleHeap(readHeap())
			exportOnce(b, client, s, token)
			heap, live := stop()
			b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(live)/(1<<20), "peak-live-MiB")
		})
	}
}

// exportHistory registers a user with a history of edits 100,000-character
// edits of one article and edits/10 edits of a 10,000-character bio, waits
// until every read model has applied it, and returns the user's access
// token. Scattered, another user edits an article of theirs as often, in
// between: the user's events are every other one of the log.
func exportHistory(b testing.TB, s *server, edits int, scattered bool) string {
	b.Helper()
	ctx := context.Background()
	tk := s.registerUser(b, "prolific")
	other := s.registerUser(b, "bystander")
	actorOf := func(token string) domain.Actor {
		me := expect(b, s.request(b, "GET", "/api/auth/me/", token, nil), http.StatusOK).Map(b)
		return domain.Actor{ID: me["id"].(string)}
	}
	actor, bystander := actorOf(tk.AccessToken), actorOf(other.AccessToken)
	text := func(i, n int) string {
		head := fmt.Sprintf("edit %d. ", i)
		return head + strings.Repeat("All work and no play makes a long history. ", n/43+1)[:n-len(head)]
	}
	art := s.createArticle(b, tk.AccessToken, map[string]any{"title": "A long story", "content": text(0, 100_000)})
	theirs := s.createArticle(b, other.AccessToken, map[string]any{"title": "Another story", "content": text(0, 100_000)})
	edit := func(a domain.Actor, id string, i int) {
		content := text(i, 100_000)
		if _, err := s.Commands.UpdateArticle.Handle(ctx, commands.UpdateArticle{Actor: a, ID: id,
			Changes: domain.ArticleChanges{Content: &content}}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 1; i <= edits; i++ {
		edit(actor, art["id"].(string), i)
		if scattered {
			edit(bystander, theirs["id"].(string), i)
		}
		if i%10 == 0 {
			bio := text(i, domain.MaxBioLen)
			if _, err := s.Commands.UpdateProfile.Handle(ctx, commands.UpdateProfile{Actor: actor,
				Changes: domain.ProfileChanges{Bio: &bio}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	head := s.head(b)
	for _, p := range []string{"users", "articles", "personal"} {
		if err := s.Projection.WaitForProjection(wait, p, head); err != nil {
			b.Fatal(err)
		}
	}
	return tk.AccessToken
}

// exportOnce downloads the export, checks that it is whole, and returns its
// size.
func exportOnce(b *testing.B, client *http.Client, s *server, token string) int64 {
	b.Helper()
	req, err := http.NewRequest("GET", s.URL+"/api/auth/me/export/", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		b.Fatalf("export: status %d: %s", resp.StatusCode, body)
	}
	tail := &tailWriter{}
	n, err := io.Copy(tail, resp.Body)
	if err != nil {
		b.Fatalf("export after %d bytes: %v", n, err)
	}
	if !bytes.HasSuffix(tail.last, []byte("]}\n")) {
		b.Fatalf("export of %d bytes ends with %q", n, tail.last)
	}
	return n
}

// tailWriter keeps the last bytes written to it.
type tailWriter struct{ last []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	w.last = append(w.last, p[max(0, len(p)-16):]...)
	w.last = w.last[max(0, len(w.last)-16):]
	return len(p), nil
}

// heapSample is the heap in use and the live heap, in bytes.
type heapSample struct{ inuse, live uint64 }

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/gc/heap/live:bytes"}

func readHeap() heapSample { return readHeapInto(make([]metrics.Sample, len(heapMetrics))) }

// readHeapInto reads the heap with s, a slice of len(heapMetrics) samples
// (so that sampling allocates nothing).
func readHeapInto(s []metrics.Sample) heapSample {
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return heapSample{inuse: s[0].Value.Uint64() + s[1].Value.Uint64(), live: s[2].Value.Uint64()}
}

// sampleHeap samples the heap every millisecond until the function it
// returns is called, which returns the most the heap in use and the live
// heap grew by over base.
func sampleHeap(base heapSample) func() (heap, live uint64) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak heapSample
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		samples := make([]metrics.Sample, len(heapMetrics))
		for {
			h := readHeapInto(samples)
			peak.inuse, peak.live = max(peak.inuse, h.inuse), max(peak.live, h.live)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		grew := func(p, b uint64) uint64 { return max(p, b) - b }
		return grew(peak.inuse, base.inuse), grew(peak.live, base.live)
	}
}

// scopedTB runs the cleanups registered on it when end is called, not when
// its test ends: a server started on it is closed, and its memory free, at
// end.
type scopedTB struct {
	testing.TB
	cleanups []func()
}

func (s *scopedTB) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

func (s *scopedTB) end() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
}
