package main_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	main "inkwell/cmd/inkwell"
	"inkwell/faults"
	"inkwell/projections/projectionstest"
)

// The articles of Inkwell, read and changed by concurrent clients, behave
// as one copy that changes at one instant within each request (they are
// linearizable), although commands are decided against the log and reads
// served by read models that lag it. Clients read (GET, which answers the
// version as the ETag), change conditionally (PATCH with If-Match, as HTTP
// tells a client to: on 412, read again and retry with the new ETag) and
// change blindly (PATCH without If-Match), on a few articles at once; the
// read model's database is behind a proxy that slows every exchange, so
// that it lags the log by a batch or more. The history is checked with
// Porcupine against a model of one version counter per article.
//
// What this catches: a conditional PATCH refused (412) because the log
// already holds a newer version, whose writer has not had its answer yet,
// followed by a GET that still shows the old version: the refusal knew
// more than the read after it, and a client doing what HTTP tells it loops
// on stale versions while the read model lags.
func TestArticlesAreLinearizable(t *testing.T) {
	t.Parallel()
	_, url := projectionstest.MustOpenPostgresURL(t)
	proxy, proxied := faults.ProxyURL(t, url)
	s := startServer(t, func(c *main.Config) { c.DatabaseURL = proxied })
	author := s.registerUser(t, "lin")
	var ids []string
	for i := range 2 {
		a := s.createArticle(t, author.AccessToken, map[string]any{"title": fmt.Sprintf("Linearizable %d", i)})
		ids = append(ids, a["id"].(string))
	}
	proxy.Delay(3 * time.Millisecond)

	h := &history{start: time.Now()}
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(c), 42))
			cl := &linClient{t: t, s: s, token: author.AccessToken, id: c, h: h}
			for round := 0; round < 12 && !t.Failed(); round++ {
				article := ids[rnd.IntN(len(ids))]
				if rnd.IntN(4) == 0 {
					cl.patch(article, nil)
					continue
				}
				// Read, then change what was read; on 412 read again and
				// retry, as HTTP tells a client to.
				for try := 0; try < 3; try++ {
					v, ok := cl.get(article)
					if !ok {
						break
					}
					if st := cl.patch(article, &v); st != http.StatusPreconditionFailed {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	proxy.Delay(0)
	if t.Failed() {
		return
	}
	ops := h.operations()
	res := porcupine.CheckOperationsTimeout(articleModel(), ops, time.Minute)
	switch res {
	case porcupine.Ok:
		t.Logf("%d operations of 4 clients on %d articles are linearizable (%d refusals 412, %d answers 202, %d 503)",
			len(ops), len(ids), h.count(http.StatusPreconditionFailed), h.count(http.StatusAccepted), h.count(http.StatusServiceUnavailable))
	case porcupine.Illegal:
		// Only the articles whose operations are not linearizable.
		var bad []porcupine.Operation
		m := articleModel()
		for _, part := range m.Partition(ops) {
			one := m
			one.Partition = nil
			if !porcupine.CheckOperations(one, part) {
				bad = append(bad, part...)
			}
		}
		var b strings.Builder
		slices.SortFunc(bad, func(x, y porcupine.Operation) int { return cmp.Compare(x.Call, y.Call) })
		for _, op := range bad {
			fmt.Fprintf(&b, "\n  client %d [%7.1f ms, %7.1f ms] %s", op.ClientId, float64(op.Call)/1e6, float64(op.Return)/1e6,
				describeArticleOp(op.Input, op.Output))
		}
		t.Fatalf("the history is not linearizable:%s", b.String())
	default:
		t.Fatalf("the check of %d operations did not finish in a minute", len(ops))
	}
}

// linInput is an operation on one article: a GET, or a PATCH with (IfMatch
// set) or without If-Match.
type linInput struct {
	Article string
	Patch   bool
	IfMatch *uint64
}

// linOutput is the answer: its status and the version it shows (a GET's
// or a change's ETag, or a 202's version).
type linOutput struct {
	Status  int
	Version uint64
}

// articleModel is one version counter per article. A GET answers the
// current version; a PATCH that is answered 200 or 202 made the next one
// (when it had If-Match, only if it matched); a 412 says If-Match did not
// match; a 503 changed nothing (the server answers it, with no fault
// injected, only for a refusal it could not yet show: see settleRefusal).
func articleModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			by := map[string][]porcupine.Operation{}
			var keys []string
			for _, op := range history {
				a := op.Input.(linInput).Article
				if _, ok := by[a]; !ok {
					keys = append(keys, a)
				}
				by[a] = append(by[a], op)
			}
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, by[k])
			}
			return out
		},
		Init: func() any { return uint64(1) },
		Step: func(state, input, output any) (bool, any) {
			v, in, out := state.(uint64), input.(linInput), output.(linOutput)
			switch {
			case !in.Patch:
				return out.Version == v, v
			case out.Status == http.StatusServiceUnavailable:
				return true, v
			case out.Status == http.StatusPreconditionFailed:
				return in.IfMatch != nil && *in.IfMatch != v, v
			case in.IfMatch != nil && *in.IfMatch != v:
				return false, v
			}
			// The version a change answers is the read model's when it
			// answered, which another client's later change may have
			// passed already: the GETs check the versions.
			return true, v + 1
		},
		DescribeOperation: describeArticleOp,
	}
}

func describeArticleOp(input, output any) string {
	in, out := input.(linInput), output.(linOutput)
	switch {
	case !in.Patch:
		return fmt.Sprintf("GET %s -> %d, version %d", in.Article[len(in.Article)-4:], out.Status, out.Version)
	case in.IfMatch != nil:
		return fmt.Sprintf("PATCH %s If-Match %d -> %d, version %d", in.Article[len(in.Article)-4:], *in.IfMatch, out.Status, out.Version)
	}
	return fmt.Sprintf("PATCH %s -> %d, version %d", in.Article[len(in.Article)-4:], out.Status, out.Version)
}

// history records operations as clients make them.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

func (h *history) operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

func (h *history) count(status int) int {
	n := 0
	for _, op := range h.operations() {
		if op.Output.(linOutput).Status == status {
			n++
		}
	}
	return n
}

// linClient is one client of the history: its requests, one at a time.
type linClient struct {
	t     *testing.T
	s     *server
	token string
	id    int
	h     *history
	n     int
}

// get reads the article's version; false if the read failed (the test
// has failed then).
func (c *linClient) get(article string) (uint64, bool) {
	call := time.Since(c.h.start)
	status, header, _ := c.send("GET", "/api/articles/"+article+"/", nil, "")
	ret := time.Since(c.h.start)
	if status != http.StatusOK {
		c.t.Errorf("client %d: GET %s: %d", c.id, article, status)
		return 0, false
	}
	v := versionOf(c.t, header.Get("ETag"))
	c.h.add(porcupine.Operation{ClientId: c.id, Input: linInput{Article: article}, Call: call.Nanoseconds(),
		Output: linOutput{Status: status, Version: v}, Return: ret.Nanoseconds()})
	return v, true
}

// patch changes the article's title, with If-Match when ifMatch is set,
// and returns the status.
func (c *linClient) patch(article string, ifMatch *uint64) int {
	c.n++
	body := fmt.Sprintf(`{"title": "client %d change %d"}`, c.id, c.n)
	var match string
	if ifMatch != nil {
		match = `"` + strconv.FormatUint(*ifMatch, 10) + `"`
	}
	call := time.Since(c.h.start)
	status, header, raw := c.send("PATCH", "/api/articles/"+article+"/", []byte(body), match)
	ret := time.Since(c.h.start)
	out := linOutput{Status: status}
	switch status {
	case http.StatusOK:
		out.Version = versionOf(c.t, header.Get("ETag"))
	case http.StatusAccepted:
		var acc struct{ Version uint64 }
		if err := json.Unmarshal(raw, &acc); err != nil {
			c.t.Errorf("client %d: 202 %s: %v", c.id, raw, err)
		}
		out.Version = acc.Version
	case http.StatusPreconditionFailed, http.StatusServiceUnavailable:
	default:
		c.t.Errorf("client %d: PATCH %s: %d %s", c.id, article, status, raw)
		return status
	}
	c.h.add(porcupine.Operation{ClientId: c.id, Input: linInput{Article: article, Patch: true, IfMatch: ifMatch}, Call: call.Nanoseconds(),
		Output: out, Return: ret.Nanoseconds()})
	return status
}

func (c *linClient) send(method, path string, body []byte, ifMatch string) (int, http.Header, []byte) {
	req, err := http.NewRequest(method, c.s.URL+path, bytes.NewReader(body))
	if err != nil {
		c.t.Error(err)
		return 0, nil, nil
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.s.client.Do(req)
	if err != nil {
		c.t.Errorf("client %d: %s %s: %v", c.id, method, path, err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func versionOf(t *testing.T, etag string) uint64 {
	v, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(etag, "W/"), `"`), 10, 64)
	if err != nil {
		t.Errorf("ETag %q: %v", etag, err)
	}
	return v
}
