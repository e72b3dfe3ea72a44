package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/pilotlight/pilotlight/internal/lab/atomicfile"
	"github.com/pilotlight/pilotlight/internal/lab/front"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// version orders writes of the same key across regions.
type version struct {
	TS     int64  // unix milliseconds
	Origin string // region that accepted the write
}

func (v version) less(o version) bool {
	if v.TS != o.TS {
		return v.TS < o.TS
	}
	return v.Origin < o.Origin
}

func (v version) String() string { return strconv.FormatInt(v.TS, 10) + "@" + v.Origin }

func parseVersion(s string) (version, bool) {
	ts, origin, ok := strings.Cut(s, "@")
	if !ok || origin == "" {
		return version{}, false
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return version{}, false
	}
	return version{n, origin}, true
}

// entry is what a region is known to hold for a key.
type entry struct {
	V       version     `json:"v"`
	Deleted bool        `json:"d,omitempty"`
	image   digest.Item // for repairs; not persisted
}

// change is one stream record on its way to the peer.
type change struct {
	shard, seq string
	skip       bool // the replicator's own write: only advances the position
	key        digest.Item
	keyID      string
	v          version
	deleted    bool
	image      digest.Item
	observed   time.Time
}

// tableRegion is one region as the replicator sees it.
type tableRegion struct {
	name      string
	c         *region.Clients
	hashKey   string
	writeTime func(key string) (int64, bool)

	mu     sync.Mutex
	latest map[string]*entry

	// reader state, owned by the direction goroutine reading this region
	streamArn string
	shards    map[string]*shardReader
	described time.Time
}

type shardReader struct {
	id, parent string
	iterator   *string
	closed     bool // no more records will come
}

// tableDirection replicates from one region to the other.
type tableDirection struct {
	from, to *tableRegion

	mu       sync.Mutex
	queue    []*change
	applied  map[string]string // shard -> last applied or skipped sequence number
	stats    region.ReplicationStatus
	lagSince time.Time
	queued   chan struct{} // the reader queued changes: the applier need not wait out its poll
	// readThrough: every record of the source's stream written before
	// this time has been read (a read pass that began then reached the tip
	// of every shard). Zero until the first such pass.
	readThrough time.Time
}

// Replicator replicates the table both ways between two regions (New).
type Replicator struct {
	cfg   Config
	log   *slog.Logger
	path  string
	table string
	dirs  []*tableDirection

	mu     sync.Mutex
	lag    time.Duration
	paused bool
	dirty  bool
}

// tableCheckpoint is the persisted replication position.
type tableCheckpoint struct {
	Streams map[string]string                     `json:"streams"` // region -> stream ARN
	Applied map[string]map[string]string          `json:"applied"` // "from>to" -> shard -> seq
	Latest  map[string]map[string]json.RawMessage `json:"latest"`  // region -> key -> entry
}

// Region is one of the two regions the replicator links.
type Region struct {
	Name string
	// Clients are the replicator's own: their user agent is
	// front.ReplicatorAgent, so the region's write-time front does not
	// take its writes for users'.
	Clients *region.Clients
	// WriteTime says when the region's write-time front saw the last
	// user's write of a key (front.KeyID) answered; nil: not known.
	WriteTime func(key string) (int64, bool)
}

// Config is what a Replicator works with.
type Config struct {
	Regions [2]Region
	Table   string
	Lag     time.Duration // how long a change waits before it is applied
	Path    string        // the position file (created if missing)
	Log     *slog.Logger
	// Cut reports whether a region's DynamoDB is cut off: nothing leaves
	// it then.
	Cut func(region string) bool
}

// New reads both regions' table descriptions and the saved position.
func New(ctx context.Context, cfg Config) (*Replicator, error) {
	t := &Replicator{cfg: cfg, log: cfg.Log.With("component", "table-replicator"), path: cfg.Path, table: cfg.Table, lag: cfg.Lag}
	regs := make([]*tableRegion, len(cfg.Regions))
	for i, r := range cfg.Regions {
		c := r.Clients
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := c.DynamoDB.DescribeTable(dctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.table)})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("describe %s in %s: %w", t.table, r.Name, err)
		}
		if out.Table.LatestStreamArn == nil {
			return nil, fmt.Errorf("table %s in %s has no stream: enable NEW_AND_OLD_IMAGES", t.table, r.Name)
		}
		tr := &tableRegion{name: r.Name, c: c, latest: map[string]*entry{}, shards: map[string]*shardReader{}, streamArn: *out.Table.LatestStreamArn, writeTime: r.WriteTime}
		for _, k := range out.Table.KeySchema {
			if k.KeyType == dbtypes.KeyTypeHash {
				tr.hashKey = *k.AttributeName
			}
		}
		regs[i] = tr
	}
	t.dirs = []*tableDirection{
		{from: regs[0], to: regs[1], applied: map[string]string{}, queued: make(chan struct{}, 1)},
		{from: regs[1], to: regs[0], applied: map[string]string{}, queued: make(chan struct{}, 1)},
	}
	for _, d := range t.dirs {
		d.stats = region.ReplicationStatus{From: d.from.name, To: d.to.name, Enabled: true}
	}
	if err := t.load(); err != nil {
		return nil, err
	}
	return t, nil
}

func dirKey(d *tableDirection) string { return d.from.name + ">" + d.to.name }

func (t *Replicator) load() error {
	b, err := os.ReadFile(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var cp tableCheckpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return fmt.Errorf("replication position %s is corrupt (%v): delete it to replicate from the start of the streams", t.path, err)
	}
	for _, d := range t.dirs {
		// A position in another stream (the table was recreated) means nothing here.
		if cp.Streams[d.from.name] != d.from.streamArn {
			continue
		}
		for s, seq := range cp.Applied[dirKey(d)] {
			d.applied[s] = seq
		}
		for k, raw := range cp.Latest[d.from.name] {
			var e entry
			if json.Unmarshal(raw, &e) == nil {
				d.from.latest[k] = &e
			}
		}
	}
	return nil
}

// save writes the position atomically.
func (t *Replicator) save() error {
	cp := tableCheckpoint{Streams: map[string]string{}, Applied: map[string]map[string]string{}, Latest: map[string]map[string]json.RawMessage{}}
	for _, d := range t.dirs {
		cp.Streams[d.from.name] = d.from.streamArn
		d.mu.Lock()
		m := make(map[string]string, len(d.applied))
		for k, v := range d.applied {
			m[k] = v
		}
		d.mu.Unlock()
		cp.Applied[dirKey(d)] = m
		r := d.from
		r.mu.Lock()
		snapshot := make(map[string]entry, len(r.latest))
		for k, e := range r.latest {
			snapshot[k] = *e
		}
		r.mu.Unlock()
		// Encode outside the lock: the readers and appliers need it.
		lm := make(map[string]json.RawMessage, len(snapshot))
		for k, e := range snapshot {
			b, _ := json.Marshal(e)
			lm[k] = b
		}
		cp.Latest[r.name] = lm
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	return atomicfile.Write(t.path, b, 0o600)
}

func (t *Replicator) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range t.dirs {
		wg.Add(1)
		go func(d *tableDirection) { defer wg.Done(); t.runDirection(ctx, d) }(d)
	}
	saveTick := time.NewTicker(200 * time.Millisecond)
	defer saveTick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			if err := t.save(); err != nil {
				t.log.Error("save position", "err", err)
			}
			return
		case <-saveTick.C:
			t.mu.Lock()
			dirty := t.dirty
			t.dirty = false
			t.mu.Unlock()
			if dirty {
				if err := t.save(); err != nil {
					t.log.Error("save position", "err", err)
				}
			}
			t.prune()
		}
	}
}

// Stream polling: every 10 ms while records come (replication lag is
// measured in tens of milliseconds); after 20 empty polls in a row, slowing
// by 5 ms per empty poll to 100 ms, so a lab left running does not keep DynamoDB Local busy.
const (
	pollInterval = 10 * time.Millisecond
	idlePoll     = 100 * time.Millisecond
)

// runDirection reads the source stream and applies due changes, in two
// loops, so a slow apply never delays reading (and the lag is measured from
// when a change was written, not from when a busy applier got to it).
func (t *Replicator) runDirection(ctx context.Context, d *tableDirection) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.loop(ctx, d, nil, func() (int, error) {
			n, err := t.read(ctx, d)
			if n > 0 {
				select {
				case d.queued <- struct{}{}:
				default:
				}
			}
			return n, err
		})
	}()
	t.loop(ctx, d, d.queued, func() (int, error) { return t.applyDue(ctx, d) })
	wg.Wait()
}

// loop runs step until ctx ends: again at once while it finds work, every
// poll interval when idle (or at once when wake fires), backing off on
// errors.
func (t *Replicator) loop(ctx context.Context, d *tableDirection, wake <-chan struct{}, step func() (int, error)) {
	backoff, idle := pollInterval, 0
	for ctx.Err() == nil {
		n, err := step()
		w := wake
		if err != nil {
			w = nil // back off a failing step whatever comes in
		}
		if err != nil && ctx.Err() == nil {
			d.mu.Lock()
			d.stats.LastError = err.Error()
			d.mu.Unlock()
			t.log.Debug("replication step failed", "from", d.from.name, "to", d.to.name, "err", err)
			backoff = min(backoff*2, 500*time.Millisecond)
		} else if n > 0 {
			backoff, idle = pollInterval, 0
			continue
		} else if idle++; idle > 20 {
			backoff = min(backoff+pollInterval/2, idlePoll) // idle for 200 ms and more
		} else {
			backoff = pollInterval
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		case <-w:
		}
	}
}

// read pulls new records from the source region's stream into the queue.
func (t *Replicator) read(ctx context.Context, d *tableDirection) (int, error) {
	r := d.from
	began, atTip := time.Now(), true
	if time.Since(r.described) > time.Second || len(r.shards) == 0 {
		atTip = false // a describe may find shards not read yet
	}
	defer func() {
		if atTip {
			d.mu.Lock()
			d.readThrough = began
			d.mu.Unlock()
		}
	}()
	if time.Since(r.described) > time.Second || len(r.shards) == 0 {
		if err := t.describe(ctx, d); err != nil {
			return 0, err
		}
	}
	total := 0
	ids := make([]string, 0, len(r.shards))
	for id := range r.shards {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sh := r.shards[id]
		if sh.closed || (sh.parent != "" && r.shards[sh.parent] != nil && !r.shards[sh.parent].closed) {
			continue
		}
		if sh.iterator == nil {
			if err := t.iterate(ctx, d, sh); err != nil {
				atTip = false
				return total, err
			}
		}
		cctx, cancel := callContext(ctx)
		out, err := r.c.Streams.GetRecords(cctx, &dynamodbstreams.GetRecordsInput{ShardIterator: sh.iterator, Limit: aws.Int32(1000)})
		cancel()
		if err != nil {
			var expired *sttypes.ExpiredIteratorException
			var trimmed *sttypes.TrimmedDataAccessException
			if errors.As(err, &expired) || errors.As(err, &trimmed) {
				sh.iterator = nil
			}
			atTip = false
			return total, fmt.Errorf("get records %s: %w", r.name, err)
		}
		if len(out.Records) == 1000 {
			atTip = false // more waits behind this page
		}
		now := time.Now()
		for i := range out.Records {
			t.classify(d, sh.id, &out.Records[i], now)
		}
		total += len(out.Records)
		sh.iterator = out.NextShardIterator
		if sh.iterator == nil {
			sh.closed = true
		}
	}
	return total, nil
}

func (t *Replicator) describe(ctx context.Context, d *tableDirection) error {
	r := d.from
	var start *string
	for {
		cctx, cancel := callContext(ctx)
		out, err := r.c.Streams.DescribeStream(cctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(r.streamArn), ExclusiveStartShardId: start})
		cancel()
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", r.name, err)
		}
		for _, s := range out.StreamDescription.Shards {
			if _, ok := r.shards[*s.ShardId]; !ok {
				r.shards[*s.ShardId] = &shardReader{id: *s.ShardId, parent: aws.ToString(s.ParentShardId)}
			}
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}
	r.described = time.Now()
	return nil
}

func (t *Replicator) iterate(ctx context.Context, d *tableDirection, sh *shardReader) error {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(d.from.streamArn), ShardId: aws.String(sh.id), ShardIteratorType: sttypes.ShardIteratorTypeTrimHorizon}
	d.mu.Lock()
	if seq, ok := d.applied[sh.id]; ok {
		in.ShardIteratorType = sttypes.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(seq)
	}
	d.mu.Unlock()
	cctx, cancel := callContext(ctx)
	defer cancel()
	out, err := d.from.c.Streams.GetShardIterator(cctx, in)
	if err != nil {
		return fmt.Errorf("shard iterator %s %s: %w", d.from.name, sh.id, err)
	}
	sh.iterator = out.ShardIterator
	return nil
}

// writeTime is when a local write of key was answered in regionName.
func (t *Replicator) writeTime(regionName, key string) (int64, bool) {
	for _, d := range t.dirs {
		if r := d.from; r.name == regionName && r.writeTime != nil {
			return r.writeTime(key)
		}
	}
	return 0, false
}

// classify turns a stream record into a queued change, recording what the
// source region now holds for the key.
func (t *Replicator) classify(d *tableDirection, shard string, rec *sttypes.Record, now time.Time) {
	r := d.from
	sr := rec.Dynamodb
	c := &change{shard: shard, seq: aws.ToString(sr.SequenceNumber), observed: now}
	c.key = validate.FromStream(sr.Keys)
	c.keyID = front.KeyID(c.key)
	newImg, oldImg := validate.FromStream(sr.NewImage), validate.FromStream(sr.OldImage)

	v, deleted, own := replicatorWrite(rec.EventName, newImg, oldImg)
	var wt int64
	var wok bool
	if !own {
		wt, wok = t.writeTime(r.name, c.keyID) // may wait for the write's answer: not under r.mu
	}
	r.mu.Lock()
	cur := r.latest[c.keyID]
	if own {
		c.skip = true
		if cur == nil || cur.V.less(v) {
			r.latest[c.keyID] = &entry{V: v, Deleted: deleted}
		} else if v.less(cur.V) && cur.V.Origin == r.name && (cur.image != nil || cur.Deleted) {
			// A user's write landed before ours but carries a newer version:
			// put it back, so the region holds the winner.
			repair := &change{key: c.key, keyID: c.keyID, v: cur.V, deleted: cur.Deleted, image: cur.image}
			r.mu.Unlock()
			t.repair(d, repair)
			r.mu.Lock()
		}
	} else {
		// The time of the write, as the region's write-time front saw its
		// answer; later than this region's own previous write of the key.
		ts := now.UnixMilli()
		if wok {
			ts = wt
		}
		if cur != nil && cur.V.Origin == r.name && ts <= cur.V.TS {
			ts = cur.V.TS + 1 // the same region's writes of a key are ordered by its stream
		}
		c.v = version{ts, r.name}
		if rec.EventName == sttypes.OperationTypeRemove {
			c.deleted = true
		} else {
			c.image = stripRep(newImg)
		}
		// A record read late may be older than a peer's version applied
		// here meanwhile: the region then holds that one, not this.
		if cur == nil || cur.V.less(c.v) {
			r.latest[c.keyID] = &entry{V: c.v, Deleted: c.deleted, image: c.image}
		}
	}
	r.mu.Unlock()

	d.mu.Lock()
	d.queue = append(d.queue, c)
	if !c.skip {
		d.stats.Pending++
	}
	d.mu.Unlock()
}

// replicatorWrite reports whether a record is the replicator's own write, and
// which version it carries.
func replicatorWrite(op sttypes.OperationType, newImg, oldImg digest.Item) (v version, deleted, own bool) {
	if op == sttypes.OperationTypeRemove {
		if _, marked := oldImg[region.AttrRepDeleting]; !marked {
			return version{}, false, false
		}
		v, ok := itemVersion(oldImg)
		return v, true, ok
	}
	nv, ok := itemVersion(newImg)
	if !ok {
		return version{}, false, false
	}
	if _, marked := newImg[region.AttrRepDeleting]; marked {
		return nv, true, true
	}
	if ov, had := itemVersion(oldImg); had && ov == nv {
		return version{}, false, false // a user updated a replicated item
	}
	return nv, false, true
}

func itemVersion(it digest.Item) (version, bool) {
	s, ok := it[region.AttrRepVersion].(*dbtypes.AttributeValueMemberS)
	if !ok {
		return version{}, false
	}
	return parseVersion(s.Value)
}

func stripRep(it digest.Item) digest.Item {
	out := make(digest.Item, len(it))
	for k, v := range it {
		if k != region.AttrRepVersion && k != region.AttrRepDeleting {
			out[k] = v
		}
	}
	return out
}

// applyDue applies the queued changes whose lag has passed, in order, and
// returns how many it applied or skipped. Nothing leaves a cut source region:
// changes waiting out their lag are in that region's replication pipeline,
// as they would be on AWS, and arrive only once it is back.
func (t *Replicator) applyDue(ctx context.Context, d *tableDirection) (int, error) {
	t.mu.Lock()
	lag, paused := t.lag, t.paused
	t.mu.Unlock()
	if t.cfg.Cut != nil && t.cfg.Cut(d.from.name) {
		return 0, nil
	}
	now := time.Now()
	d.mu.Lock()
	n := 0
	for n < len(d.queue) && n < 500 && !d.queue[n].observed.Add(lag).After(now) {
		n++
	}
	if paused {
		// Own writes need no transfer: let the position pass them.
		n = 0
		for n < len(d.queue) && d.queue[n].skip {
			n++
		}
	}
	batch := d.queue[:n:n]
	d.mu.Unlock()
	if n == 0 {
		return 0, nil
	}
	// Coalesce: only the newest change per key in the batch needs writing.
	last := make(map[string]*change, n)
	for _, c := range batch {
		if !c.skip {
			last[c.keyID] = c
		}
	}
	var puts []*change
	for _, c := range batch {
		if c.skip || last[c.keyID] != c {
			continue
		}
		if !t.claim(d.to, c) {
			continue
		}
		if c.deleted {
			if err := t.applyDelete(ctx, d.to, c); err != nil {
				t.unclaim(d.to, c)
				return 0, err
			}
			continue
		}
		puts = append(puts, c)
	}
	if err := t.applyPuts(ctx, d.to, puts); err != nil {
		for _, c := range puts {
			t.unclaim(d.to, c)
		}
		return 0, err
	}
	done := time.Now()
	d.mu.Lock()
	for _, c := range batch {
		d.applied[c.shard] = c.seq
		if !c.skip {
			d.stats.Pending--
			d.stats.Applied++
			d.stats.LastLagMs = done.Sub(c.observed).Milliseconds()
		}
	}
	d.stats.LastApplied = done
	d.stats.LastError = ""
	d.queue = d.queue[n:]
	d.mu.Unlock()
	t.mu.Lock()
	t.dirty = true
	t.mu.Unlock()
	return n, nil
}

// claim records that the destination is about to hold c, unless it already
// holds a newer or equal version.
func (t *Replicator) claim(to *tableRegion, c *change) bool {
	to.mu.Lock()
	defer to.mu.Unlock()
	if cur := to.latest[c.keyID]; cur != nil && !cur.V.less(c.v) {
		return false
	}
	to.latest[c.keyID] = &entry{V: c.v, Deleted: c.deleted, image: c.image}
	return true
}

func (t *Replicator) unclaim(to *tableRegion, c *change) {
	to.mu.Lock()
	defer to.mu.Unlock()
	if cur := to.latest[c.keyID]; cur != nil && cur.V == c.v {
		delete(to.latest, c.keyID)
	}
}

func stamped(c *change) digest.Item {
	it := make(digest.Item, len(c.image)+1)
	for k, v := range c.image {
		it[k] = v
	}
	it[region.AttrRepVersion] = &dbtypes.AttributeValueMemberS{Value: c.v.String()}
	return it
}

// applyPuts writes the items in batches of up to 25, several batches at a
// time: the keys of one call are distinct, so order among them does not
// matter, and DynamoDB Local serves parallel requests far faster than
// sequential ones.
func (t *Replicator) applyPuts(ctx context.Context, to *tableRegion, puts []*change) error {
	const workers = 8
	var chunks [][]*change
	per := min(25, max(1, (len(puts)+workers-1)/workers))
	for len(puts) > 0 {
		n := min(per, len(puts))
		chunks = append(chunks, puts[:n])
		puts = puts[n:]
	}
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i, chunk := range chunks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = t.batchPut(ctx, to, chunk)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (t *Replicator) batchPut(ctx context.Context, to *tableRegion, chunk []*change) error {
	if len(chunk) == 1 {
		cctx, cancel := callContext(ctx)
		defer cancel()
		if _, err := to.c.DynamoDB.PutItem(cctx, &dynamodb.PutItemInput{TableName: aws.String(t.table), Item: stamped(chunk[0])}); err != nil {
			return fmt.Errorf("put %s in %s: %w", chunk[0].keyID, to.name, err)
		}
		return nil
	}
	reqs := make([]dbtypes.WriteRequest, len(chunk))
	for i, c := range chunk {
		reqs[i] = dbtypes.WriteRequest{PutRequest: &dbtypes.PutRequest{Item: stamped(c)}}
	}
	pending := map[string][]dbtypes.WriteRequest{t.table: reqs}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 5 {
			return fmt.Errorf("batch write %s: unprocessed items after %d attempts", to.name, attempt)
		}
		cctx, cancel := callContext(ctx)
		out, err := to.c.DynamoDB.BatchWriteItem(cctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		cancel()
		if err != nil {
			return fmt.Errorf("batch write %s: %w", to.name, err)
		}
		pending = out.UnprocessedItems
	}
	return nil
}

func (t *Replicator) applyDelete(ctx context.Context, to *tableRegion, c *change) error {
	v := &dbtypes.AttributeValueMemberS{Value: c.v.String()}
	cctx, cancel := callContext(ctx)
	_, err := to.c.DynamoDB.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(t.table),
		Key:                       c.key,
		UpdateExpression:          aws.String("SET #v = :v, #d = :t"),
		ConditionExpression:       aws.String("attribute_exists(#k)"),
		ExpressionAttributeNames:  map[string]string{"#v": region.AttrRepVersion, "#d": region.AttrRepDeleting, "#k": to.hashKey},
		ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":v": v, ":t": &dbtypes.AttributeValueMemberBOOL{Value: true}},
	})
	cancel()
	var ccf *dbtypes.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil // nothing there to delete
	}
	if err != nil {
		return fmt.Errorf("mark %s for delete in %s: %w", c.keyID, to.name, err)
	}
	cctx, cancel = callContext(ctx)
	_, err = to.c.DynamoDB.DeleteItem(cctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(t.table),
		Key:                       c.key,
		ConditionExpression:       aws.String("#v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": region.AttrRepVersion},
		ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":v": v},
	})
	cancel()
	if errors.As(err, &ccf) {
		return nil // a user wrote in between; that write is newer and replicates on its own
	}
	if err != nil {
		return fmt.Errorf("delete %s in %s: %w", c.keyID, to.name, err)
	}
	return nil
}

// repair rewrites a region's item with the version it should hold.
func (t *Replicator) repair(d *tableDirection, c *change) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if c.deleted {
		err = t.applyDelete(ctx, d.from, c)
	} else {
		err = t.applyPuts(ctx, d.from, []*change{c})
	}
	if err != nil {
		t.log.Warn("repair failed", "region", d.from.name, "key", c.keyID, "err", err)
	}
}

// prune forgets versions old enough that no change can conflict with them:
// none queued, and none still unread — a record can be read long after its
// write (its region cut off, its stream slow), and a version forgotten
// before then would let that older record win. So the cut-off is also the
// oldest point every direction has read through (ReadThrough).
func (t *Replicator) prune() {
	cutoff := time.Now().Add(-5 * time.Second)
	for _, d := range t.dirs {
		d.mu.Lock()
		if d.readThrough.Before(cutoff) {
			cutoff = d.readThrough
		}
		for _, c := range d.queue {
			if !c.skip && c.observed.Before(cutoff) {
				cutoff = c.observed
				break
			}
		}
		d.mu.Unlock()
	}
	ms := cutoff.Add(-time.Second).UnixMilli()
	for _, d := range t.dirs {
		r := d.from
		r.mu.Lock()
		for k, e := range r.latest {
			if e.V.TS < ms {
				delete(r.latest, k)
			}
		}
		r.mu.Unlock()
	}
}

// ReadThrough is the time before which every record of region's stream
// has been read (zero until one read pass reached the tip): the lab's
// write-time fronts keep a key's write time at least until then.
func (t *Replicator) ReadThrough(region string) time.Time {
	for _, d := range t.dirs {
		if d.from.name == region {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.readThrough
		}
	}
	return time.Time{}
}

// Settings are the lag and whether replication is paused.
func (t *Replicator) Settings() (lag time.Duration, paused bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lag, t.paused
}

func (t *Replicator) SetLag(d time.Duration) {
	t.mu.Lock()
	t.lag = d
	t.mu.Unlock()
}

func (t *Replicator) SetPaused(p bool) {
	t.mu.Lock()
	t.paused = p
	t.mu.Unlock()
}

func (t *Replicator) Status() []region.ReplicationStatus {
	t.mu.Lock()
	paused := t.paused
	t.mu.Unlock()
	out := make([]region.ReplicationStatus, len(t.dirs))
	now := time.Now()
	for i, d := range t.dirs {
		d.mu.Lock()
		s := d.stats
		for _, c := range d.queue {
			if !c.skip {
				s.OldestPendingMs = now.Sub(c.observed).Milliseconds()
				break
			}
		}
		d.mu.Unlock()
		s.Paused = paused
		out[i] = s
	}
	return out
}

// callContext bounds one call to a region's server: a cut region must not
// hold the replicator up for longer.
func callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*time.Second)
}
