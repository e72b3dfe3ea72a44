package front

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/region"
)

// ChangeFront stands between a region's S3 fault proxy and its versitygw
// and notes every object version a write creates — the key, the version ID
// the server answered with, whether it is a delete marker, and when — in
// the change feeds the object replicator reads. It is the lab's stand-in
// for the change log S3 replication works from: versitygw sends no events,
// and listing every version of a bucket on every pass costs seconds once a
// bucket holds tens of thousands of versions.
//
// Invariant: a write's change is in every feed before its answer leaves
// the front, so before the client that made it hears it was acknowledged.
// A replication pass that reads the feed after time T therefore sees every
// version acknowledged before T (the failback drain relies on this).
//
// Like the write-time front it changes no request and no answer. Writes
// whose version it cannot tell (a multi-object delete, an answer lost
// between here and the server) are noted by key, and the replicator lists
// that key's versions.
type ChangeFront struct {
	proxy *httputil.ReverseProxy
	srv   *http.Server
	Addr  string

	// Gate, when set, sees every request first and may refuse it: it
	// writes the answer and returns false (the lab's IAM).
	Gate func(w http.ResponseWriter, r *http.Request) bool

	mu    sync.Mutex
	feeds map[*Feed]struct{}
	cap   int // feedCap, or less in tests
}

// Change is one new version, or (version "") a key to list.
type Change struct {
	Key, Version string
	Marker       bool // a delete marker
	At           time.Time
}

// Feed is one reader's queue of changes, per bucket.
type Feed struct {
	front *ChangeFront
	wake  chan<- struct{} // signalled (without blocking) on every change

	mu       sync.Mutex
	changes  map[string][]Change // bucket -> changes, in the order answered
	overflow map[string]bool     // bucket -> changes were dropped: list it whole
}

// feedCap bounds a feed's queue per bucket (a direction left off for
// hours — failback replication — must not hold every write in memory):
// past it the queue is dropped and the reader lists the bucket instead,
// as S3 Batch Replication catches up on what a rule missed.
const feedCap = 100_000

type changeKeysCtx struct{}

// StartChangeFront listens on a free local port and forwards to backend.
func StartChangeFront(backend string) (*ChangeFront, error) {
	proxy, ln, err := frontProxy(backend)
	if err != nil {
		return nil, err
	}
	f := &ChangeFront{Addr: ln.Addr().String(), feeds: map[*Feed]struct{}{}, proxy: proxy, cap: feedCap}
	f.proxy.ModifyResponse = f.answered
	f.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// The write may have landed: have its key listed.
		if ow, ok := r.Context().Value(changeKeysCtx{}).(*objectWrite); ok {
			f.note(ow.bucket, ow.listKeys(), time.Now())
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	f.srv = serveFront(ln, f)
	return f, nil
}

func (f *ChangeFront) Close() {
	if f != nil {
		f.srv.Close()
	}
}

// objectWrite is what ServeHTTP learned of a write request.
type objectWrite struct {
	bucket string
	key    string   // a single-object write
	multi  []string // the keys of a multi-object delete
}

func (w *objectWrite) listKeys() []Change {
	var out []Change
	for _, k := range append([]string{w.key}, w.multi...) {
		if k != "" {
			out = append(out, Change{Key: k})
		}
	}
	return out
}

func (f *ChangeFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.Gate != nil && !f.Gate(w, r) {
		return
	}
	if ow := classifyWrite(r); ow != nil {
		r = r.WithContext(context.WithValue(r.Context(), changeKeysCtx{}, ow))
	}
	f.proxy.ServeHTTP(w, r)
}

// classifyWrite returns the write a request makes that creates an object
// version: PutObject and CopyObject, CompleteMultipartUpload, DeleteObject
// without a version ID (a delete marker), DeleteObjects. Anything else —
// reads, parts, tags, permanent deletes of one version — is nil. Requests
// are path-style (/bucket/key), as the lab's clients send them.
func classifyWrite(r *http.Request) *objectWrite {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket == "" {
		return nil
	}
	q := r.URL.Query()
	switch {
	case key == "" && r.Method == http.MethodPost && q.Has("delete"):
		// Read (at most 4 MiB of) the request to learn its keys; the server
		// gets every byte, read or not.
		orig := r.Body
		body, err := io.ReadAll(io.LimitReader(orig, 4<<20))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), orig), orig}
		if err != nil {
			return nil
		}
		var req struct {
			Objects []struct {
				Key       string
				VersionId string
			} `xml:"Object"`
		}
		if xml.Unmarshal(body, &req) != nil {
			return nil
		}
		ow := &objectWrite{bucket: bucket}
		for _, o := range req.Objects {
			if o.VersionId == "" && !SkipKey(o.Key) {
				ow.multi = append(ow.multi, o.Key)
			}
		}
		if len(ow.multi) == 0 {
			return nil
		}
		return ow
	case key == "" || SkipKey(key):
		return nil
	}
	// The SDK names its operation in an x-id parameter; any other parameter
	// is a subresource (a part, tags, an ACL, one version).
	q.Del("x-id")
	switch {
	case r.Method == http.MethodPut && len(q) == 0,
		r.Method == http.MethodDelete && len(q) == 0,
		r.Method == http.MethodPost && len(q) == 1 && q.Has("uploadId"):
		return &objectWrite{bucket: bucket, key: key}
	}
	return nil
}

// SkipKey: the health probes' canaries are never replicated.
func SkipKey(key string) bool { return strings.HasPrefix(key, region.CanaryPrefix) }

// answered notes a write's version before its answer goes back.
func (f *ChangeFront) answered(resp *http.Response) error {
	ow, ok := resp.Request.Context().Value(changeKeysCtx{}).(*objectWrite)
	if !ok || resp.StatusCode >= 300 {
		return nil
	}
	now := time.Now()
	if v := resp.Header.Get("X-Amz-Version-Id"); ow.key != "" && v != "" {
		f.note(ow.bucket, []Change{{Key: ow.key, Version: v, Marker: resp.Header.Get("X-Amz-Delete-Marker") == "true", At: now}}, now)
		return nil
	}
	f.note(ow.bucket, ow.listKeys(), now)
	return nil
}

func (f *ChangeFront) note(bucket string, changes []Change, at time.Time) {
	if len(changes) == 0 {
		return
	}
	for i := range changes {
		changes[i].At = at
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.feeds {
		c.mu.Lock()
		if len(c.changes[bucket])+len(changes) > f.cap {
			delete(c.changes, bucket)
			c.overflow[bucket] = true
		} else if !c.overflow[bucket] {
			c.changes[bucket] = append(c.changes[bucket], changes...)
		}
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// subscribe returns a feed of every change from now on.
func (f *ChangeFront) Subscribe(wake chan<- struct{}) *Feed {
	c := &Feed{front: f, wake: wake, changes: map[string][]Change{}, overflow: map[string]bool{}}
	f.mu.Lock()
	f.feeds[c] = struct{}{}
	f.mu.Unlock()
	return c
}

func (c *Feed) Close() {
	c.front.mu.Lock()
	delete(c.front.feeds, c)
	c.front.mu.Unlock()
}

// take returns the bucket's changes since the last take and forgets them;
// overflowed means some were dropped (the bucket must be listed whole).
func (c *Feed) Take(bucket string) (changes []Change, overflowed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	changes, overflowed = c.changes[bucket], c.overflow[bucket]
	delete(c.changes, bucket)
	delete(c.overflow, bucket)
	return changes, overflowed
}
