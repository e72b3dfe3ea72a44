// Package arrival owns the proof a planned failover (a failback) waits
// for before its target may write: that every write the source region
// acknowledged in its tenure has arrived in the target (Drainer). The
// controller (package failover) calls it through its Drainer, CatchUpper
// and Readier interfaces, in the lab and on AWS alike.
package arrival

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// Drainer proves arrival, item by item: every item the source
// region's tables changed in its tenure — pilotlight's table and every
// table of a protected application (Adopted), each read from its stream,
// which holds every write the region acknowledged, in order per item — is
// shown in the target as the source's last image says (a removed item:
// absent), and every latest object version the source's data bucket (and
// each adopted bucket) got in its tenure is in the target's with the same
// ETag. Global tables replicate items independently, with no
// order across items: one canary that arrived says nothing about the rest.
//
// A Drain before the handover (the catch-up, while the source still
// writes) reads the stream from its start and proves what is there; the
// Drain after it — when nothing more is written — reads on from where the
// first stopped and proves the rest, so the time writes are refused is what
// was written since the catch-up, not the table. It must be used through a
// pointer (it keeps those positions).
//
// The tenure bounds the work, not the promise: a stream record or an
// object older than the drain's since (less Rounding) is skipped; a resumed failback (a new process, no
// positions) proves the source's tenure, not the stream's 24 hours.
//
// Limits, stated: a stream record is readable a moment after its write
// was acknowledged, so a drain reads on for Settle; a stream keeps 24
// hours; an item changed earlier and not since is not re-proved (the
// validator compares whole tables). Deleted objects are not followed.
type Drainer struct {
	// Clients reach both regions' data (with the SDK's retries).
	Clients map[string]*region.Clients
	Names   region.Names
	// Timeout bounds one Drain (0: 60 s).
	Timeout time.Duration
	// Settle is how long a Drain keeps reading the stream before it may
	// pass: a write is acknowledged a moment before its stream record can
	// be read (DynamoDB Streams: near real time, about a second; DynamoDB
	// Local: at once).
	Settle time.Duration
	// Objects also proves the data bucket's objects.
	Objects bool
	// Adopted, when set, names the users' tables and buckets pilotlight
	// protects (protect apply): a drain proves them as it proves its own
	// (the promise is the application's, not only the orders service's).
	Adopted func(ctx context.Context) (Adopted, error)
	// Rounding is how far before its write a stream record's time may lie
	// (0: a second, as DynamoDB Streams rounds; DynamoDB Local rounds down
	// to the minute). An object's (S3's LastModified) is a second.
	Rounding time.Duration
	// Replicated, when set, is waited for before the objects are proved
	// (the lab kicks its object replicator rather than wait for its poll).
	Replicated func(ctx context.Context, from, to string) error
	// Check, when set, tells before anything is fenced whether a drain can
	// succeed (see Readier).
	Check func(ctx context.Context, from, to string) error

	mu  sync.Mutex
	dir map[string]*arrival // per direction "from>to"
}

// Adopted is what a drain proves besides pilotlight's own table and
// bucket.
type Adopted struct {
	Tables []string
	// Buckets: each a bucket and its replica, by region.
	Buckets []map[string]string
}

// StreamSettle is Drainer.Settle on AWS: DynamoDB Streams makes a
// record readable in near real time, well within two seconds.
const StreamSettle = 2 * time.Second

// LocalStreamRounding is Drainer.Rounding against DynamoDB Local,
// which rounds a stream record's time down to the minute (measured:
// TestArrivalDrainProvesTheTenureOnly fails with a second).
const LocalStreamRounding = time.Minute

var (
	_ failover.CatchUpper = (*Drainer)(nil)
	_ failover.Drainer    = (*Drainer)(nil)
	_ failover.Readier    = (*Drainer)(nil)
)

// arrival is what one direction's drains have read and proved so far.
type arrival struct {
	tables  map[string]*tableArrival
	objects map[string]map[string]string // source bucket → object key → ETag proved in the target
}

// tableArrival is one table's stream read and items proved.
type tableArrival struct {
	table   string
	stream  string
	after   map[string]string // shard → last sequence number read
	ended   map[string]bool   // closed shards read to their end
	pending map[string]change // canonical key → the source's last image of it
}

type change struct {
	at    time.Time // the stream record's time (zero: not given)
	key   map[string]types.AttributeValue
	image map[string]types.AttributeValue // nil: removed
	why   string                          // what the target showed last
}

// Ready implements Readier.
func (d *Drainer) Ready(ctx context.Context, from, to string) error {
	if d.Check == nil {
		return nil
	}
	return d.Check(ctx, from, to)
}

// CatchUp implements CatchUpper: it reads the stream and proves what has
// arrived until the pending items stop shrinking (the source still
// writes), and returns; it fails only when the stream cannot be read.
func (d *Drainer) CatchUp(ctx context.Context, from, to string, since time.Time) error {
	return d.drain(ctx, from, to, since, true)
}

// Drain implements Drainer.
func (d *Drainer) Drain(ctx context.Context, from, to string, since time.Time) error {
	return d.drain(ctx, from, to, since, false)
}

func (d *Drainer) drain(ctx context.Context, from, to string, since time.Time, catchUp bool) error {
	src, dst := d.Clients[from], d.Clients[to]
	if src == nil || dst == nil {
		return fmt.Errorf("drain %s → %s: no data clients for both regions", from, to)
	}
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tables, buckets, err := d.subjects(ctx, from, to)
	if err != nil {
		return fmt.Errorf("drain %s → %s: %w", from, to, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir == nil {
		d.dir = map[string]*arrival{}
	}
	a := d.dir[from+">"+to]
	if a == nil {
		a = &arrival{tables: map[string]*tableArrival{}, objects: map[string]map[string]string{}}
		d.dir[from+">"+to] = a
	}
	var cut, objectCut time.Time
	if !since.IsZero() {
		r := d.Rounding
		if r == 0 {
			r = time.Second
		}
		cut, objectCut = since.Add(-r), since.Add(-time.Second)
	}
	var ts []*tableArrival
	for _, name := range tables {
		t := a.tables[name]
		if t == nil {
			t = &tableArrival{table: name, after: map[string]string{}, ended: map[string]bool{}, pending: map[string]change{}}
			a.tables[name] = t
		}
		for k, c := range t.pending {
			if c.at.Before(cut) && !c.at.IsZero() {
				delete(t.pending, k) // kept by an earlier drain, before this tenure
			}
		}
		ts = append(ts, t)
	}
	if err := d.proveTables(ctx, src, dst, from, to, ts, cut, catchUp, timeout); err != nil {
		return err
	}
	if len(buckets) == 0 {
		return nil
	}
	if d.Replicated != nil {
		if err := d.Replicated(ctx, from, to); err != nil {
			return err
		}
	}
	for _, b := range buckets {
		if a.objects[b[0]] == nil {
			a.objects[b[0]] = map[string]string{}
		}
		if err := d.proveBucket(ctx, src, dst, from, to, b, objectCut, a.objects[b[0]], catchUp, timeout); err != nil {
			return err
		}
	}
	return nil
}

// proveTables reads the tables' streams and proves what they hold until
// nothing is pending and Settle has passed (a catch-up: until the pending
// items stop shrinking), or ctx ends.
func (d *Drainer) proveTables(ctx context.Context, src, dst *region.Clients, from, to string, ts []*tableArrival, cut time.Time, catchUp bool, timeout time.Duration) error {
	pending := func() int {
		n := 0
		for _, t := range ts {
			n += len(t.pending)
		}
		return n
	}
	settled := time.Now().Add(d.Settle)
	best := -1
	for {
		// An error reading the stream or the target is read again until the
		// deadline (a transient one — a reset connection, a slow server —
		// is not a failed drain), and the last is reported with what is
		// pending when the deadline comes. Nothing is proved by skipping:
		// an unread stream leaves its changes unknown, and the loop goes
		// on only while they are.
		var err error
		for _, t := range ts {
			if rerr := d.read(ctx, src, t, cut); rerr != nil {
				if ctx.Err() != nil && pending() > 0 {
					return fmt.Errorf("drain %s → %s: %d items written in %s not in %s after %s, e.g. %s", from, to, pending(), from, to, timeout, samples(ts))
				}
				if err == nil {
					err = fmt.Errorf("read %s's stream of %s: %w", from, t.table, rerr)
				}
				continue
			}
			if perr := d.prove(ctx, dst, t); perr != nil && err == nil {
				err = perr
			}
		}
		if err != nil && ctx.Err() != nil && pending() > 0 {
			err = nil // the deadline: report what is pending
		}
		if err == nil && pending() == 0 && !time.Now().Before(settled) {
			return nil
		}
		if catchUp && err == nil {
			// Caught up as far as a source that still writes allows: the
			// pending items no longer shrink.
			if best >= 0 && pending() >= best {
				return nil
			}
			best = pending()
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%d items written in %s not in %s after %s, e.g. %s", pending(), from, to, timeout, samples(ts))
			}
			return fmt.Errorf("drain %s → %s: %w", from, to, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// proveBucket proves a bucket pair's objects until none is missing (a
// catch-up: once), or ctx ends.
func (d *Drainer) proveBucket(ctx context.Context, src, dst *region.Clients, from, to string, b [2]string, cut time.Time, proved map[string]string, catchUp bool, timeout time.Duration) error {
	var missing []string // as the last complete comparison found them
	for {
		now, err := d.proveObjects(ctx, src, dst, b[0], b[1], cut, proved)
		if err == nil {
			missing = now
			if len(missing) == 0 || catchUp {
				return nil
			}
		}
		if ctx.Err() != nil && missing != nil {
			err = nil // the deadline cut a listing short: report what the last one found
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%d objects in %s not in %s after %s, e.g. %s", len(missing), b[0], b[1], timeout, strings.Join(missing[:min(3, len(missing))], ", "))
			}
			return fmt.Errorf("drain %s → %s: %w", from, to, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// subjects are the tables a drain proves (pilotlight's and the adopted
// ones) and the bucket pairs (source, target): pilotlight's data bucket
// when Objects, and every adopted one.
func (d *Drainer) subjects(ctx context.Context, from, to string) ([]string, [][2]string, error) {
	tables := []string{d.Names.Table()}
	var buckets [][2]string
	if d.Objects {
		buckets = append(buckets, [2]string{d.Names.Bucket(from), d.Names.Bucket(to)})
	}
	if d.Adopted == nil {
		return tables, buckets, nil
	}
	ad, err := d.Adopted(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("the protected application's tables and buckets: %w", err)
	}
	tables = append(tables, ad.Tables...)
	for _, b := range ad.Buckets {
		if b[from] == "" || b[to] == "" {
			return nil, nil, fmt.Errorf("adopted bucket pair %v has no bucket in %s or %s", b, from, to)
		}
		buckets = append(buckets, [2]string{b[from], b[to]})
	}
	return tables, buckets, nil
}

// read reads the source table's stream on from the positions in a, keeping
// each key's last image as pending (unless its record is before cut).
func (d *Drainer) read(ctx context.Context, src *region.Clients, a *tableArrival, cut time.Time) error {
	if a.stream == "" {
		out, err := src.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(a.table)})
		if err != nil {
			return err
		}
		if out.Table.LatestStreamArn == nil {
			return fmt.Errorf("table %s has no stream: a global table replica always does", a.table)
		}
		a.stream = *out.Table.LatestStreamArn
	}
	var shards []sttypes.Shard
	var start *string
	for {
		out, err := src.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(a.stream), ExclusiveStartShardId: start})
		if err != nil {
			return err
		}
		shards = append(shards, out.StreamDescription.Shards...)
		if start = out.StreamDescription.LastEvaluatedShardId; start == nil {
			break
		}
	}
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		if a.ended[id] {
			continue
		}
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(a.stream), ShardId: sh.ShardId, ShardIteratorType: sttypes.ShardIteratorTypeTrimHorizon}
		if seq := a.after[id]; seq != "" {
			in.ShardIteratorType, in.SequenceNumber = sttypes.ShardIteratorTypeAfterSequenceNumber, aws.String(seq)
		}
		it, err := src.Streams.GetShardIterator(ctx, in)
		if err != nil {
			return fmt.Errorf("shard %s: %w", id, err)
		}
		iter := it.ShardIterator
		// An open shard has no end: it is read until it answers empty (its
		// tip; the drain reads again until Settle has passed).
		for empty := 0; iter != nil && empty < 1; {
			out, err := src.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				return fmt.Errorf("shard %s: %w", id, err)
			}
			if len(out.Records) == 0 {
				empty++
			} else {
				empty = 0
			}
			for _, r := range out.Records {
				if r.Dynamodb == nil {
					continue
				}
				key := validate.FromStream(r.Dynamodb.Keys)
				if a.table == d.Names.Table() && canary(key) {
					continue
				}
				a.after[id] = aws.ToString(r.Dynamodb.SequenceNumber)
				c := change{key: key, at: aws.ToTime(r.Dynamodb.ApproximateCreationDateTime)}
				if c.at.Before(cut) && !c.at.IsZero() {
					// Before the tenure; a later write of the key in the
					// tenure replaces its image (and an earlier one kept
					// would be deleted above).
					delete(a.pending, string(digest.AppendCanonical(nil, key)))
					continue
				}
				if r.EventName != sttypes.OperationTypeRemove {
					c.image = validate.FromStream(r.Dynamodb.NewImage)
				}
				a.pending[string(digest.AppendCanonical(nil, key))] = c
			}
			iter = out.NextShardIterator
			if iter == nil {
				a.ended[id] = true
			}
		}
	}
	return nil
}

// prove looks the pending items up in the target (strongly consistent, 100
// at a time) and drops those that hold the source's last image.
func (d *Drainer) prove(ctx context.Context, dst *region.Clients, a *tableArrival) error {
	keys := make([]string, 0, len(a.pending))
	for k := range a.pending {
		keys = append(keys, k)
	}
	for len(keys) > 0 {
		n := min(100, len(keys))
		batch := keys[:n]
		keys = keys[n:]
		req := map[string]types.KeysAndAttributes{a.table: {ConsistentRead: aws.Bool(true)}}
		ka := req[a.table]
		for _, k := range batch {
			ka.Keys = append(ka.Keys, a.pending[k].key)
		}
		req[a.table] = ka
		found := map[string]map[string]types.AttributeValue{}
		for len(req) > 0 {
			out, err := dst.DynamoDB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return err
			}
			for _, it := range out.Responses[a.table] {
				found[keyOf(it, a.pending[batch[0]].key)] = it
			}
			req = out.UnprocessedKeys
		}
		for _, k := range batch {
			c := a.pending[k]
			got, ok := found[keyOf(c.key, c.key)]
			switch {
			case c.image == nil && !ok:
			case c.image != nil && ok && string(digest.AppendCanonical(nil, got)) == string(digest.AppendCanonical(nil, c.image)):
			default:
				switch {
				case c.image == nil:
					c.why = "removed in the source, present in the target"
				case !ok:
					c.why = "missing in the target"
				default:
					c.why = "differs in " + strings.Join(differing(c.image, got), ", ")
				}
				a.pending[k] = c
				continue
			}
			delete(a.pending, k)
		}
	}
	return nil
}

// canary reports whether key is one of pilotlight's own canary items: the
// health checks write them in every region whatever the lease says, so the
// target's is always newer than the source's last image; they are not the
// application's acknowledged writes.
func canary(key map[string]types.AttributeValue) bool {
	pk, ok := key[region.TableHashKey].(*types.AttributeValueMemberS)
	return ok && strings.HasPrefix(pk.Value, region.CanaryPrefix)
}

// keyOf is the canonical key of item, taking the key attributes' names from
// like (an item's key map).
func keyOf(item, like map[string]types.AttributeValue) string {
	key := make(map[string]types.AttributeValue, len(like))
	for k := range like {
		key[k] = item[k]
	}
	return string(digest.AppendCanonical(nil, key))
}

// proveObjects lists both buckets and checks each source object not proved
// yet (new, or with another ETag) against the target's listing: two
// listings, not a call per object. It returns the keys still missing.
func (d *Drainer) proveObjects(ctx context.Context, src, dst *region.Clients, srcBucket, dstBucket string, cut time.Time, proved map[string]string) ([]string, error) {
	list := func(c *region.Clients, bucket string, f func(key, etag string, at time.Time)) error {
		p := s3.NewListObjectsV2Paginator(c.S3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list %s: %w", bucket, err)
			}
			for _, o := range page.Contents {
				f(aws.ToString(o.Key), aws.ToString(o.ETag), aws.ToTime(o.LastModified))
			}
		}
		return nil
	}
	want := map[string]string{}
	if err := list(src, srcBucket, func(k, etag string, at time.Time) {
		if !strings.HasPrefix(k, "_canary/") && proved[k] != etag && !at.Before(cut) {
			want[k] = etag
		}
	}); err != nil {
		return nil, err
	}
	if len(want) == 0 {
		return nil, nil
	}
	if err := list(dst, dstBucket, func(k, etag string, _ time.Time) {
		if w, ok := want[k]; ok && w == etag {
			proved[k] = etag
			delete(want, k)
		}
	}); err != nil {
		return nil, err
	}
	missing := make([]string, 0, len(want))
	for k := range want {
		missing = append(missing, k)
	}
	sort.Strings(missing)
	return missing, nil
}

// samples names up to three pending items, from the first table that has
// any.
func samples(ts []*tableArrival) string {
	for _, t := range ts {
		if len(t.pending) > 0 {
			s := sample(t.pending)
			if len(ts) > 1 {
				s = "table " + t.table + ": " + s
			}
			return s
		}
	}
	return ""
}

func sample(pending map[string]change) string {
	var out []string
	for _, c := range pending {
		var parts []string
		for k, v := range c.key {
			switch x := v.(type) {
			case *types.AttributeValueMemberS:
				parts = append(parts, k+"="+x.Value)
			case *types.AttributeValueMemberN:
				parts = append(parts, k+"="+x.Value)
			default:
				parts = append(parts, k+"=…")
			}
		}
		sort.Strings(parts)
		out = append(out, "{"+strings.Join(parts, ", ")+"} ("+c.why+")")
		if len(out) == 3 {
			break
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// differing names the attributes in which two items differ (replication
// bookkeeping aside).
func differing(a, b map[string]types.AttributeValue) []string {
	var out []string
	for k, v := range a {
		if digest.Ignored(k) {
			continue
		}
		if w, ok := b[k]; !ok || string(digest.AppendCanonical(nil, map[string]types.AttributeValue{k: v})) != string(digest.AppendCanonical(nil, map[string]types.AttributeValue{k: w})) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && !digest.Ignored(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
