package objects

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/lab/atomicfile"
	"github.com/pilotlight/pilotlight/internal/lab/front"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Replicator copies new object versions between two regions (New).
type Replicator struct {
	cfg  Config
	log  *slog.Logger
	path string

	mu       sync.Mutex
	lag      time.Duration
	paused   bool
	failback bool
	pos      Position
	journal  []byte // position entries not yet appended to the log
	logged   int    // entries in the log file
	copies   int    // versions copied so far (busy detection)
	stats    map[string]*region.ReplicationStatus
	kick     chan struct{} // a pass now, not at the next interval

	// Read and written by the run goroutine only.
	feeds   map[string]*front.Feed   // direction "from>to" -> the source region's feed
	queues  map[string]*versionQueue // direction + "|" + kind
	pairs   []pair                   // under mu
	removed map[string]bool          // under mu: kinds removed since the last pass (their queues go)
}

// versionQueue is what one direction knows of one bucket kind.
type versionQueue struct {
	listed bool                    // the catch-up listing is done
	known  map[string][]srcVersion // key -> versions not yet copied, oldest first
	relist map[string]bool         // keys whose versions must be listed
}

// Position is what a replicator has copied, saved in its position file.
type Position struct {
	// Copied: "from>to" -> bucket suffix kind -> key -> source version ids.
	Copied map[string]map[string]map[string][]string `json:"copied"`
	// Created: region -> kind -> key -> version ids the replicator made there.
	Created map[string]map[string]map[string][]string `json:"created"`
}

// positionEntry is one line of the position log: a version copied.
type positionEntry struct {
	Dir     string `json:"d"`
	Kind    string `json:"k"`
	Key     string `json:"key"`
	Source  string `json:"v"`
	To      string `json:"r"`
	Created string `json:"c,omitempty"`
}

func (p *Position) apply(e positionEntry) {
	cs := p.copiedSet(e.Dir, e.Kind)
	cs[e.Key] = append(cs[e.Key], e.Source)
	if e.Created != "" {
		cr := p.createdSet(e.To, e.Kind)
		cr[e.Key] = append(cr[e.Key], e.Created)
	}
}

// pair is one replicated bucket pair: a kind (the key of its position
// entries: "data" and "backup" for pilotlight's own buckets, "bucket:NAME"
// for a user's adopted one) and its bucket in each region.
type pair struct {
	kind   string
	bucket map[string]string // region -> bucket
}

// adoptedKind is the position kind of a user's bucket.
func adoptedKind(bucket string) string { return "bucket:" + bucket }

// snapshotPairs returns the pairs replicated now, and the kinds removed
// since the last call.
func (o *Replicator) snapshotPairs() ([]pair, map[string]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	removed := o.removed
	o.removed = nil
	return slices.Clone(o.pairs), removed
}

// AddBucket makes the replicator serve a user's bucket as it serves
// pilotlight's: every version written to src in the primary region is
// copied to replica in the DR region (and back while failback replication
// is on). Both buckets must exist and be versioned. Its first pass lists
// src's versions and copies those the replica lacks (the backfill).
// Idempotent.
func (o *Replicator) AddBucket(src, replica string) {
	o.mu.Lock()
	if !slices.ContainsFunc(o.pairs, func(p pair) bool { return p.kind == adoptedKind(src) }) {
		o.pairs = append(o.pairs, pair{kind: adoptedKind(src), bucket: map[string]string{o.cfg.Primary.Name: src, o.cfg.DR.Name: replica}})
	}
	o.mu.Unlock()
	o.Poke()
}

// RemoveBucket stops serving a user's bucket and forgets what was copied
// (adopting it again checks every version against the replica). Neither
// bucket is touched. Idempotent.
func (o *Replicator) RemoveBucket(src string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := adoptedKind(src)
	o.pairs = slices.DeleteFunc(o.pairs, func(p pair) bool { return p.kind == k })
	if o.removed == nil {
		o.removed = map[string]bool{}
	}
	o.removed[k] = true // an adoption again before the next pass lists it anew
	for _, m := range o.pos.Copied {
		delete(m, k)
	}
	for _, m := range o.pos.Created {
		delete(m, k)
	}
	o.logged = compactAfter // the next save writes the snapshot without it
}

// Region is one of the two regions the replicator links.
type Region struct {
	Name    string
	Clients *region.Clients
	// Changes is the region's change front: it feeds each new version.
	Changes *front.ChangeFront
}

// Config is what a Replicator works with.
type Config struct {
	Primary, DR Region
	Names       region.Names // the buckets' names
	Lag         time.Duration
	Path        string // the position file; its log is Path + ".log"
	Log         *slog.Logger
	// Cut reports whether a region's S3 is cut off: nothing leaves it then.
	Cut func(region string) bool
}

// New reads the saved position and subscribes to both change feeds.
func New(cfg Config) (*Replicator, error) {
	o := &Replicator{cfg: cfg, log: cfg.Log.With("component", "object-replicator"), path: cfg.Path, lag: cfg.Lag,
		stats: map[string]*region.ReplicationStatus{}, kick: make(chan struct{}, 1),
		feeds: map[string]*front.Feed{}, queues: map[string]*versionQueue{}}
	pos, err := LoadPosition(cfg.Path)
	if err != nil {
		return nil, err
	}
	o.pos = pos
	p, dr := cfg.Primary.Name, cfg.DR.Name
	o.pairs = []pair{
		{kind: "data", bucket: map[string]string{p: cfg.Names.Bucket(p), dr: cfg.Names.Bucket(dr)}},
		{kind: "backup", bucket: map[string]string{p: cfg.Names.BackupBucket(p), dr: cfg.Names.BackupBucket(dr)}},
	}
	o.stats[p+">"+dr] = &region.ReplicationStatus{Kind: "objects", From: p, To: dr, Enabled: true}
	o.stats[dr+">"+p] = &region.ReplicationStatus{Kind: "objects", From: dr, To: p}
	// Subscribe before the catch-up listing: a version written between the
	// two is in both, and merged once.
	o.feeds[p+">"+dr] = cfg.Primary.Changes.Subscribe(o.kick)
	o.feeds[dr+">"+p] = cfg.DR.Changes.Subscribe(o.kick)
	return o, nil
}

// region is one of the two regions by name.
func (o *Replicator) region(name string) (*Region, error) {
	switch name {
	case o.cfg.Primary.Name:
		return &o.cfg.Primary, nil
	case o.cfg.DR.Name:
		return &o.cfg.DR, nil
	}
	return nil, fmt.Errorf("no region %q: the object replicator links %s and %s", name, o.cfg.Primary.Name, o.cfg.DR.Name)
}

// LoadPosition reads the snapshot and the log after it, and folds
// the log into a new snapshot. A last log line cut short by a crash is
// dropped (its copy is found again by the catch-up listing).
// LoadPosition reads the position saved at path, folding its log in.
func LoadPosition(path string) (Position, error) {
	pos := Position{Copied: map[string]map[string]map[string][]string{}, Created: map[string]map[string]map[string][]string{}}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return pos, err
	}
	if err == nil {
		if err := json.Unmarshal(b, &pos); err != nil {
			return pos, fmt.Errorf("object replication position %s is corrupt (%v): delete it and %s.log to replicate every version again", path, err, path)
		}
	}
	lb, err := os.ReadFile(path + ".log")
	if errors.Is(err, os.ErrNotExist) {
		return pos, nil
	}
	if err != nil {
		return pos, err
	}
	lines := bytes.Split(lb, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		var e positionEntry
		if err := json.Unmarshal(line, &e); err != nil {
			if i == len(lines)-1 {
				break // cut short by a crash
			}
			return pos, fmt.Errorf("object replication log %s.log line %d is corrupt (%v): delete it and %s to replicate every version again", path, i+1, err, path)
		}
		pos.apply(e)
	}
	sb, err := json.Marshal(pos)
	if err != nil {
		return pos, err
	}
	if err := atomicfile.Write(path, sb, 0o600); err != nil {
		return pos, err
	}
	return pos, os.Remove(path + ".log")
}

// Object polling: every 50 ms while there is work, slowing to once a
// second when idle; a change in a feed starts a pass at once.
const (
	objectPoll     = 50 * time.Millisecond
	objectIdlePoll = time.Second
)

func (o *Replicator) Run(ctx context.Context) {
	defer func() {
		for _, f := range o.feeds {
			f.Close()
		}
		if err := o.save(); err != nil {
			o.log.Error("save object replication position", "err", err)
		}
	}()
	p, dr := o.cfg.Primary.Name, o.cfg.DR.Name
	interval := objectPoll
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		case <-o.kick:
			interval = objectPoll
		}
		o.mu.Lock()
		failback := o.failback
		o.mu.Unlock()
		busy := o.step(ctx, p, dr)
		if failback {
			busy = o.step(ctx, dr, p) || busy
		}
		if err := o.save(); err != nil {
			o.log.Error("save object replication position", "err", err)
		}
		if busy {
			interval = objectPoll
		} else {
			interval = min(interval*2, objectIdlePoll)
		}
	}
}

// step replicates one direction once and reports whether it found work.
func (o *Replicator) step(ctx context.Context, from, to string) bool {
	if o.cfg.Cut != nil && o.cfg.Cut(from) {
		return false // its replication pipeline is down with it
	}
	started := time.Now().UTC()
	o.mu.Lock()
	before := o.copies
	o.mu.Unlock()
	st := o.stats[from+">"+to]
	var firstErr error
	pending, oldest, written := 0, time.Time{}, time.Time{}
	pairs, removed := o.snapshotPairs()
	for k := range o.queues {
		kind := k[strings.IndexByte(k, '|')+1:]
		if removed[kind] || !slices.ContainsFunc(pairs, func(p pair) bool { return p.kind == kind }) {
			delete(o.queues, k) // a removed bucket: listed anew if adopted again
		}
	}
	for _, pr := range pairs {
		n, old, wr, err := o.replicateBucket(ctx, pr, from, to)
		pending += n
		if !old.IsZero() && (oldest.IsZero() || old.Before(oldest)) {
			oldest = old
		}
		if !wr.IsZero() && (written.IsZero() || wr.Before(written)) {
			written = wr
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	o.mu.Lock()
	st.Pending = pending
	st.OldestPendingMs = 0
	if !oldest.IsZero() {
		st.OldestPendingMs = time.Since(oldest).Milliseconds()
	}
	if firstErr != nil {
		st.LastError = firstErr.Error()
	} else {
		st.LastError = ""
		st.PassAt, st.OldestPendingWritten = started, written
	}
	busy := pending > 0 || o.copies != before || firstErr != nil
	o.mu.Unlock()
	return busy
}

type srcVersion struct {
	key, id  string
	marker   bool
	latest   bool // IsLatest: the key's current version or marker
	modified time.Time
	order    int       // position in its listing: newest first
	seen     time.Time // when the replicator learned of it (the lag counts from here)
	listed   bool      // found by a listing: an earlier run may have copied it
}

// replicateBucket copies due versions of one bucket; it returns how many
// versions are still pending, when the oldest was first seen and the
// oldest write time among them.
func (o *Replicator) replicateBucket(ctx context.Context, pr pair, from, to string) (int, time.Time, time.Time, error) {
	src, err := o.region(from)
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	dst, err := o.region(to)
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	dirKey := from + ">" + to
	bucket := pr.bucket[from]
	q := o.queues[dirKey+"|"+pr.kind]
	if q == nil {
		q = &versionQueue{known: map[string][]srcVersion{}, relist: map[string]bool{}}
		o.queues[dirKey+"|"+pr.kind] = q
	}
	now := time.Now()
	learned, listErr := o.learn(ctx, q, src, bucket, dirKey, now)
	o.merge(q, dirKey, from, pr.kind, learned)

	o.mu.Lock()
	lag, paused := o.lag, o.paused
	o.mu.Unlock()
	// Due: each key's oldest versions whose lag has passed, in order.
	var jobs [][]srcVersion
	pending, oldest, written := 0, time.Time{}, time.Time{}
	stillPending := func(vs []srcVersion) {
		for _, v := range vs {
			pending++
			if oldest.IsZero() || v.seen.Before(oldest) {
				oldest = v.seen
			}
			if written.IsZero() || v.modified.Before(written) {
				written = v.modified
			}
		}
	}
	for _, vs := range q.known {
		n := 0
		for n < len(vs) && !paused && !vs[n].seen.Add(lag).After(now) {
			n++
		}
		if n > 0 {
			jobs = append(jobs, vs[:n])
		}
		stillPending(vs[n:])
	}
	if len(jobs) == 0 {
		return pending, oldest, written, listErr
	}
	// Keys copy in parallel; the versions of one key in order, oldest first.
	copied := make([]int, len(jobs))
	errs := make([]error, len(jobs))
	eightAtOnce(len(jobs), func(j int) {
		for _, v := range jobs[j] {
			if err := o.copyVersion(ctx, pr, src, dst, v); err != nil {
				errs[j] = err
				return
			}
			copied[j]++
		}
	})
	total := 0
	for j, vs := range jobs {
		key := vs[0].key
		total += copied[j]
		rest := q.known[key][copied[j]:]
		if len(rest) == 0 {
			delete(q.known, key)
		} else {
			q.known[key] = rest
		}
		stillPending(vs[copied[j]:])
	}
	o.mu.Lock()
	o.copies += total
	o.mu.Unlock()
	return pending, oldest, written, errors.Join(append([]error{listErr}, errs...)...)
}

// learn reads what the bucket's change feed says since the last pass and,
// when the queue has not listed the bucket (or the feed overflowed), lists
// it, and lists again the keys the feed named without a version. The feed
// is read first: what lands after it is in the next take.
func (o *Replicator) learn(ctx context.Context, q *versionQueue, src *Region, bucket, dirKey string, now time.Time) ([]srcVersion, error) {
	var learned []srcVersion
	changes, overflowed := o.feeds[dirKey].Take(bucket)
	if overflowed {
		q.listed = false // the feed dropped changes: list the bucket again
	}
	for _, c := range changes {
		if c.Version == "" {
			q.relist[c.Key] = true
			continue
		}
		learned = append(learned, srcVersion{key: c.Key, id: c.Version, marker: c.Marker, modified: c.At, seen: c.At, order: -len(learned)})
	}
	var listErr error
	if !q.listed {
		versions, err := o.list(ctx, src.Clients, bucket, "")
		if err != nil {
			listErr = err
		} else {
			q.listed = true
			clear(q.relist) // the listing covers them
			for i := range versions {
				versions[i].seen, versions[i].listed = now, true
			}
			learned = append(learned, versions...)
		}
	}
	if q.listed && len(q.relist) > 0 {
		keys := make([]string, 0, len(q.relist))
		for k := range q.relist {
			keys = append(keys, k)
		}
		got, failed, err := o.listKeys(ctx, src.Clients, bucket, keys)
		listErr = cmp.Or(listErr, err)
		for _, k := range keys {
			if !failed[k] {
				delete(q.relist, k)
			}
		}
		for i := range got {
			got[i].seen, got[i].listed = now, true
		}
		learned = append(learned, got...)
	}
	return learned, listErr
}

// merge adds versions the queue does not hold and the position does not
// mark copied or created, keeping each key's versions oldest first.
func (o *Replicator) merge(q *versionQueue, dirKey, from, kind string, vs []srcVersion) {
	if len(vs) == 0 {
		return
	}
	o.mu.Lock()
	copied := o.pos.copiedSet(dirKey, kind)
	created := o.pos.createdSet(from, kind)
	touched := map[string]bool{}
	for _, v := range vs {
		if front.SkipKey(v.key) || slices.Contains(copied[v.key], v.id) || slices.Contains(created[v.key], v.id) ||
			slices.ContainsFunc(q.known[v.key], func(k srcVersion) bool { return k.id == v.id }) {
			continue
		}
		q.known[v.key] = append(q.known[v.key], v)
		touched[v.key] = true
	}
	o.mu.Unlock()
	for k := range touched {
		sortVersions(q.known[k])
	}
}

// listKeys lists the versions of the given keys, eight at a time; failed
// names the keys whose listing failed.
func (o *Replicator) listKeys(ctx context.Context, c *region.Clients, bucket string, keys []string) ([]srcVersion, map[string]bool, error) {
	var (
		mu     sync.Mutex
		out    []srcVersion
		failed = map[string]bool{}
		errs   []error
	)
	eightAtOnce(len(keys), func(i int) {
		k := keys[i]
		vs, err := o.list(ctx, c, bucket, k)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed[k] = true
			errs = append(errs, err)
		}
		for _, v := range vs {
			if v.key == k {
				out = append(out, v)
			}
		}
	})
	return out, failed, errors.Join(errs...)
}

// eightAtOnce runs f(0) … f(n-1), at most eight at a time, and returns when
// all have.
func eightAtOnce(n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(8, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// list returns every version and delete marker of a bucket whose key starts
// with prefix, except under the canary prefix: without a prefix the top
// level is listed with a "/" delimiter and each folder but the canaries' on
// its own, so the probes' ever-growing canary history is never read.
func (o *Replicator) list(ctx context.Context, c *region.Clients, bucket, prefix string) ([]srcVersion, error) {
	var out []srcVersion
	if prefix != "" {
		if _, err := o.listInto(ctx, c, bucket, prefix, "", &out); err != nil {
			return nil, err
		}
		sortVersions(out)
		return out, nil
	}
	folders, err := o.listInto(ctx, c, bucket, "", "/", &out)
	if err != nil {
		return nil, err
	}
	for _, f := range folders {
		if strings.HasPrefix(f, region.CanaryPrefix) {
			continue
		}
		if _, err := o.listInto(ctx, c, bucket, f, "", &out); err != nil {
			return nil, err
		}
	}
	// Listings are newest first per key; copies must go oldest first so the
	// destination's latest version matches the source's.
	sortVersions(out)
	return out, nil
}

func (o *Replicator) listInto(ctx context.Context, c *region.Clients, bucket, prefix, delimiter string, out *[]srcVersion) ([]string, error) {
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	var folders []string
	for {
		cctx, cancel := callContext(ctx)
		page, err := c.S3.ListObjectVersions(cctx, in)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list versions of %s in %s: %w", bucket, c.Name, err)
		}
		for _, v := range page.Versions {
			*out = append(*out, srcVersion{key: aws.ToString(v.Key), id: aws.ToString(v.VersionId), modified: aws.ToTime(v.LastModified), latest: aws.ToBool(v.IsLatest), order: len(*out)})
		}
		for _, m := range page.DeleteMarkers {
			*out = append(*out, srcVersion{key: aws.ToString(m.Key), id: aws.ToString(m.VersionId), marker: true, modified: aws.ToTime(m.LastModified), latest: aws.ToBool(m.IsLatest), order: len(*out)})
		}
		for _, cp := range page.CommonPrefixes {
			folders = append(folders, aws.ToString(cp.Prefix))
		}
		if !aws.ToBool(page.IsTruncated) {
			return folders, nil
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
}

func (o *Replicator) copyVersion(ctx context.Context, pr pair, src, dst *Region, v srcVersion) error {
	dbucket := pr.bucket[dst.Name]
	var newID string
	if v.marker {
		cctx, cancel := callContext(ctx)
		out, err := dst.Clients.S3.DeleteObject(cctx, &s3.DeleteObjectInput{Bucket: aws.String(dbucket), Key: aws.String(v.key)})
		cancel()
		if err != nil {
			return fmt.Errorf("replicate delete marker %s to %s: %w", v.key, dst.Name, err)
		}
		newID = aws.ToString(out.VersionId)
	} else {
		// Only a listed version can have been copied by an earlier run
		// whose log missed the copy; one from the feed is newer than this run.
		done, id := false, ""
		if v.listed {
			var err error
			if done, id, err = o.alreadyCopied(ctx, dst, dbucket, v); err != nil {
				return err
			}
		}
		if !done {
			var err error
			if id, err = o.copyObject(ctx, pr.bucket[src.Name], src, dst, dbucket, v); err != nil {
				return err
			}
		}
		newID = id
	}
	o.mu.Lock()
	if !slices.ContainsFunc(o.pairs, func(p pair) bool { return p.kind == pr.kind }) {
		o.mu.Unlock() // removed during the copy: remember nothing of it
		return nil
	}
	dirKey := src.Name + ">" + dst.Name
	e := positionEntry{Dir: dirKey, Kind: pr.kind, Key: v.key, Source: v.id, To: dst.Name, Created: newID}
	o.pos.apply(e)
	if line, err := json.Marshal(e); err == nil {
		o.journal = append(append(o.journal, line...), '\n')
	}
	st := o.stats[dirKey]
	st.Applied++
	st.LastApplied = time.Now()
	st.LastLagMs = time.Since(v.seen).Milliseconds()
	o.mu.Unlock()
	return nil
}

// compactAfter is how many log entries make save fold the log into a new
// snapshot.
const compactAfter = 100_000

// save appends the copies made since the last save to the position log
// (after every pass), and now and then folds the log into the snapshot.
func (o *Replicator) save() error {
	o.mu.Lock()
	journal := o.journal
	o.journal = nil
	n := bytes.Count(journal, []byte{'\n'})
	o.logged += n
	var snapshot []byte
	if o.logged >= compactAfter {
		var err error
		if snapshot, err = json.Marshal(o.pos); err != nil {
			o.mu.Unlock()
			return err
		}
		o.logged = 0
	}
	o.mu.Unlock()
	if snapshot != nil {
		// The snapshot holds everything logged: write it, then drop the log.
		if err := atomicfile.Write(o.path, snapshot, 0o600); err != nil {
			return err
		}
		err := os.Remove(o.path + ".log")
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return err
	}
	if len(journal) == 0 {
		return nil
	}
	f, err := os.OpenFile(o.path+".log", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(journal); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// alreadyCopied reports whether the destination's latest version of the key
// is a replica of v (a copy made just before a restart).
func (o *Replicator) alreadyCopied(ctx context.Context, dst *Region, bucket string, v srcVersion) (bool, string, error) {
	cctx, cancel := callContext(ctx)
	defer cancel()
	h, err := dst.Clients.S3.HeadObject(cctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(v.key)})
	if err != nil {
		var nf *s3types.NotFound
		var nk *s3types.NoSuchKey
		if errors.As(err, &nf) || errors.As(err, &nk) || isStatus(err, 404) || isStatus(err, 405) {
			return false, "", nil
		}
		return false, "", fmt.Errorf("head %s in %s: %w", v.key, dst.Name, err)
	}
	if h.Metadata[region.MetaSourceVersion] == v.id {
		return true, aws.ToString(h.VersionId), nil
	}
	return false, "", nil
}

func (o *Replicator) copyObject(ctx context.Context, sbucket string, src, dst *Region, dbucket string, v srcVersion) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	get, err := src.Clients.S3.GetObject(cctx, &s3.GetObjectInput{Bucket: aws.String(sbucket), Key: aws.String(v.key), VersionId: aws.String(v.id)})
	if err != nil {
		return "", fmt.Errorf("read %s version %s in %s: %w", v.key, v.id, src.Name, err)
	}
	body, err := io.ReadAll(get.Body)
	get.Body.Close()
	if err != nil {
		return "", fmt.Errorf("read %s version %s in %s: %w", v.key, v.id, src.Name, err)
	}
	meta := map[string]string{}
	for k, val := range get.Metadata {
		meta[k] = val
	}
	meta[region.MetaSourceRegion] = src.Name
	meta[region.MetaSourceVersion] = v.id
	put, err := dst.Clients.S3.PutObject(cctx, &s3.PutObjectInput{
		Bucket:        aws.String(dbucket),
		Key:           aws.String(v.key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   get.ContentType,
		Metadata:      meta,
	})
	if err != nil {
		return "", fmt.Errorf("write %s to %s: %w", v.key, dst.Name, err)
	}
	return aws.ToString(put.VersionId), nil
}

func (p *Position) copiedSet(dir, kind string) map[string][]string {
	if p.Copied[dir] == nil {
		p.Copied[dir] = map[string]map[string][]string{}
	}
	if p.Copied[dir][kind] == nil {
		p.Copied[dir][kind] = map[string][]string{}
	}
	return p.Copied[dir][kind]
}

func (p *Position) createdSet(regionName, kind string) map[string][]string {
	if p.Created[regionName] == nil {
		p.Created[regionName] = map[string]map[string][]string{}
	}
	if p.Created[regionName][kind] == nil {
		p.Created[regionName][kind] = map[string][]string{}
	}
	return p.Created[regionName][kind]
}

func (o *Replicator) SetLag(d time.Duration) {
	o.mu.Lock()
	o.lag = d
	o.mu.Unlock()
}

// poke starts a pass at once (a drain is waiting for one) and keeps
// polling at the busy rate.
func (o *Replicator) Poke() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

func (o *Replicator) SetPaused(p bool) {
	o.mu.Lock()
	o.paused = p
	o.mu.Unlock()
}

// Failback says whether DR → primary replication is on.
func (o *Replicator) Failback() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failback
}

func (o *Replicator) SetFailback(on bool) {
	o.mu.Lock()
	o.failback = on
	o.stats[o.cfg.DR.Name+">"+o.cfg.Primary.Name].Enabled = on
	o.mu.Unlock()
}

func (o *Replicator) Status() []region.ReplicationStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, dr := o.cfg.Primary.Name, o.cfg.DR.Name
	out := []region.ReplicationStatus{*o.stats[p+">"+dr], *o.stats[dr+">"+p]}
	for i := range out {
		out[i].Paused = o.paused
	}
	return out
}

// callContext bounds one call to a region's server: a cut region must not
// hold the replicator up for longer.
func callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*time.Second)
}
