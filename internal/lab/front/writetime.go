package front

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ReplicatorAgent is the application name in the user agent of the table
// replicator's calls.
const ReplicatorAgent = "pilotlight-lab-replicator"

// WriteFront stands between a region's fault proxy and its DynamoDB Local
// and notes when each write to the replicated table succeeded, so the table
// replicator can resolve conflicts by the time of the write, as global
// tables do, not by when it happened to read the stream record (a latency
// fault delays the reading by seconds). It is behind the fault proxy: a
// write's time is when DynamoDB answered, not when a slowed client heard.
//
// Only users' writes are noted. The replicator's own writes (they carry
// ReplicatorAgent in their user agent) are not: were a key's time taken
// from a peer's change applied here, a user's earlier write whose stream
// record is read after it would be stamped with the peer's later time and
// win over the write that really came later.
//
// It reads the five write APIs (PutItem, UpdateItem, DeleteItem,
// BatchWriteItem, TransactWriteItems) and never changes a request or an
// item: everything passes through untouched.

type WriteFront struct {
	table string
	keys  []string // the table's key attribute names
	proxy *httputil.ReverseProxy
	srv   *http.Server
	Addr  string

	// Observe, when set, sees every successful PutItem after its answer
	// has gone back (the lab's controller-crash fault uses it).
	Observe func(body []byte)
	// Gate, when set, sees every request (with its body) first and may
	// refuse it: it writes the answer and returns false (the lab's IAM).
	Gate func(w http.ResponseWriter, r *http.Request, body []byte) bool

	mu       sync.Mutex
	latest   map[string]int64 // key ID -> unix ms of the last successful write
	inflight map[string]int   // key ID -> writes sent, not yet answered
	done     *sync.Cond
	pruned   time.Time
	// readThrough, when set (SetReadThrough), is the time before which the
	// replicator has read every record of this region's stream.
	readThrough func() time.Time
	// now is the clock (nil: time.Now; tests move it by minutes).
	now func() time.Time
}

func (f *WriteFront) clock() time.Time {
	if f.now == nil {
		return time.Now()
	}
	return f.now()
}

// SetReadThrough tells the front how far the replicator has read this
// region's stream: a write time is kept at least until then, however late
// its record is read.
func (f *WriteFront) SetReadThrough(fn func() time.Time) {
	f.mu.Lock()
	f.readThrough = fn
	f.mu.Unlock()
}

// StartWriteFront listens on a free local port and forwards to backend.
func StartWriteFront(backend, table string, keys []string) (*WriteFront, error) {
	proxy, ln, err := frontProxy(backend)
	if err != nil {
		return nil, err
	}
	f := &WriteFront{table: table, keys: keys, Addr: ln.Addr().String(), latest: map[string]int64{}, inflight: map[string]int{}, proxy: proxy}
	f.done = sync.NewCond(&f.mu)
	f.srv = serveFront(ln, f)
	return f, nil
}

// frontProxy is a front's listener on a free local port and its proxy to
// backend. Its errors are the client's to see (a 502), not the log's.
func frontProxy(backend string) (*httputil.ReverseProxy, net.Listener, error) {
	u, err := url.Parse("http://" + backend)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ErrorLog = log.New(io.Discard, "", 0)
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return p, ln, nil
}

func serveFront(ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv
}

func (f *WriteFront) Close() {
	if f != nil {
		f.srv.Close()
	}
}

func (f *WriteFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	var keys []string
	var body []byte
	read := func() bool {
		var err error
		body, err = io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		return true
	}
	if f.Gate != nil && !(read() && f.Gate(w, r, body)) {
		return
	}
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems":
		if strings.Contains(r.Header.Get("User-Agent"), "app/"+ReplicatorAgent) {
			f.proxy.ServeHTTP(w, r)
			return
		}
		if body == nil && !read() {
			return
		}
		keys = f.writtenKeys(op, body)
	}
	if len(keys) == 0 {
		if op != "PutItem" || f.Observe == nil {
			f.proxy.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		f.proxy.ServeHTTP(rec, r)
		if rec.status == http.StatusOK {
			f.Observe(body)
		}
		return
	}
	f.mu.Lock()
	for _, k := range keys {
		f.inflight[k]++
	}
	f.mu.Unlock()
	rec := &statusRecorder{ResponseWriter: w}
	f.proxy.ServeHTTP(rec, r)
	at := f.clock().UnixMilli()
	f.mu.Lock()
	for _, k := range keys {
		if f.inflight[k]--; f.inflight[k] <= 0 {
			delete(f.inflight, k)
		}
		if rec.status == http.StatusOK && at > f.latest[k] {
			f.latest[k] = at
		}
	}
	f.prune()
	f.done.Broadcast()
	f.mu.Unlock()
}

// prune forgets write times older than ten minutes and older than what the
// replicator has read through (a record read later than that, its region
// cut off for longer, must still find its write time, or it would be
// stamped with its read time and beat newer writes); the caller holds f.mu.
func (f *WriteFront) prune() {
	now := f.clock()
	if now.Sub(f.pruned) < time.Minute {
		return
	}
	f.pruned = now
	keep := now.Add(-10 * time.Minute)
	if f.readThrough != nil {
		if rt := f.readThrough().Add(-time.Minute); rt.Before(keep) {
			keep = rt
		}
	}
	cut := keep.UnixMilli()
	for k, t := range f.latest {
		if t < cut {
			delete(f.latest, k)
		}
	}
}

// writeTime is when the last successful write of key (a KeyID) was
// answered; a write still in flight is waited for (its stream record can be
// read a moment before its answer passes here). ok is false when the front
// saw no write of the key (written before the lab started).
func (f *WriteFront) WriteTime(key string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	deadline := time.Now().Add(200 * time.Millisecond)
	for f.inflight[key] > 0 && time.Now().Before(deadline) {
		// sync.Cond has no timeout: wake ourselves at the deadline.
		t := time.AfterFunc(time.Until(deadline), func() { f.mu.Lock(); f.done.Broadcast(); f.mu.Unlock() })
		f.done.Wait()
		t.Stop()
	}
	t, ok := f.latest[key]
	return t, ok
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if fl, ok := s.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// wireItem is an item or key in DynamoDB's JSON wire format.
type wireItem map[string]map[string]json.RawMessage

// writtenKeys returns the key IDs of the replicated table that a write
// request touches (nil when it touches none, or cannot be read).
func (f *WriteFront) writtenKeys(op string, body []byte) []string {
	var req struct {
		TableName     string
		Item, Key     wireItem
		RequestItems  map[string][]struct{ PutRequest, DeleteRequest *struct{ Item, Key wireItem } }
		TransactItems []struct {
			Put, Update, Delete *struct {
				TableName string
				Item, Key wireItem
			}
		}
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil
	}
	var out []string
	add := func(table string, it wireItem) {
		if table != f.table || it == nil {
			return
		}
		if id, err := f.keyOf(it); err == nil {
			out = append(out, id)
		}
	}
	switch op {
	case "PutItem":
		add(req.TableName, req.Item)
	case "UpdateItem", "DeleteItem":
		add(req.TableName, req.Key)
	case "BatchWriteItem":
		for _, w := range req.RequestItems[f.table] {
			if w.PutRequest != nil {
				add(f.table, w.PutRequest.Item)
			}
			if w.DeleteRequest != nil {
				add(f.table, w.DeleteRequest.Key)
			}
		}
	case "TransactWriteItems":
		for _, ti := range req.TransactItems {
			for _, x := range []*struct {
				TableName string
				Item, Key wireItem
			}{ti.Put, ti.Update, ti.Delete} {
				if x != nil {
					add(x.TableName, x.Item)
					add(x.TableName, x.Key)
				}
			}
		}
	}
	return out
}

// keyOf is the KeyID (as the replicator computes it from stream records)
// of an item or key in wire format.
func (f *WriteFront) keyOf(it wireItem) (string, error) {
	key := map[string]dbtypes.AttributeValue{}
	for _, name := range f.keys {
		av, ok := it[name]
		if !ok {
			return "", fmt.Errorf("no key attribute %s", name)
		}
		var s string
		switch {
		case av["S"] != nil:
			if err := json.Unmarshal(av["S"], &s); err != nil {
				return "", err
			}
			key[name] = &dbtypes.AttributeValueMemberS{Value: s}
		case av["N"] != nil:
			if err := json.Unmarshal(av["N"], &s); err != nil {
				return "", err
			}
			key[name] = &dbtypes.AttributeValueMemberN{Value: s}
		case av["B"] != nil:
			if err := json.Unmarshal(av["B"], &s); err != nil {
				return "", err
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return "", err
			}
			key[name] = &dbtypes.AttributeValueMemberB{Value: b}
		default:
			return "", fmt.Errorf("key attribute %s is not S, N or B", name)
		}
	}
	return KeyID(key), nil
}

// KeyID is a canonical string for an item key: the write-time front notes
// writes by it, and the table replicator looks them up by it.
func KeyID(key map[string]dbtypes.AttributeValue) string {
	names := make([]string, 0, len(key))
	for k := range key {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte('=')
		switch v := key[k].(type) {
		case *dbtypes.AttributeValueMemberS:
			b.WriteString("S:" + v.Value)
		case *dbtypes.AttributeValueMemberN:
			b.WriteString("N:" + v.Value)
		case *dbtypes.AttributeValueMemberB:
			b.WriteString("B:" + fmt.Sprintf("%x", v.Value))
		}
		b.WriteByte(';')
	}
	return b.String()
}
