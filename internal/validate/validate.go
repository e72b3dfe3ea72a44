package validate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/clock"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// Side is one region's copy of the table (and, optionally, its bucket).
type Side struct {
	Region string
	DB     *dynamodb.Client
	Table  string
	// S3 and Bucket, when both set, have the objects compared too.
	Objects *ObjectSide
}

// Validator compares the protected table of two regions.
type Validator struct {
	Primary, DR Side
	// Segments is the parallel-scan split of each table (default 8).
	Segments int
	// Buckets is the number of digest buckets (default 4096). Memory for
	// the digest pass is proportional to it, not to the item count.
	Buckets int
	// Settle is how long an item may take to replicate: differences are
	// read again once it has passed since the scan, and only those that
	// remain are reported (default 5s; 0 keeps the default, negative means
	// no settle window).
	Settle time.Duration
	// Samples is how many keys each finding lists (default 10).
	Samples int
	// MaxDiffItems bounds the items a diff holds (default 500,000). While
	// both tables together fit it, Run's digest pass keeps every item's key
	// and hash (about 40 bytes an item) and differences cost no second
	// scan; beyond it, buckets whose digests differ are diffed by scanning
	// again, in passes of at most this many items per region.
	MaxDiffItems int64
	// MaxRecheck bounds the differences read again after the settle window
	// (default 10,000); beyond it, differences are reported as scanned.
	MaxRecheck int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Sleep waits (tests); nil means a context-aware timer.
	Sleep func(context.Context, time.Duration) error
}

func (v *Validator) defaults() {
	if v.Segments <= 0 {
		v.Segments = 8
	}
	if v.Buckets <= 0 {
		v.Buckets = 4096
	}
	if v.Settle == 0 {
		v.Settle = 5 * time.Second
	}
	if v.Samples <= 0 {
		v.Samples = 10
	}
	if v.MaxDiffItems <= 0 {
		v.MaxDiffItems = 500000
	}
	if v.MaxRecheck <= 0 {
		v.MaxRecheck = 10000
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	if v.Sleep == nil {
		v.Sleep = clock.Sleep
	}
}

// Partial is the digest pass over a range of segments of both tables: what
// one invocation returns when the scan is fanned out. Partials of disjoint
// ranges merge into the digest of the whole.
type Partial struct {
	Table    string                    `json:"table"`
	Keys     []string                  `json:"keys"`
	Segments Segments                  `json:"segments"`
	Buckets  int                       `json:"buckets"`
	Started  time.Time                 `json:"started"`
	Digests  map[string]digest.Digests `json:"digests"` // by region
}

// Merge folds another partial of the same table and bucket count into p.
func (p *Partial) Merge(o *Partial) error {
	if p.Table != o.Table || p.Buckets != o.Buckets || p.Segments.Total != o.Segments.Total {
		return fmt.Errorf("merge partials: %s/%d buckets/%d segments and %s/%d buckets/%d segments differ: run every range with the same --segments and --buckets",
			p.Table, p.Buckets, p.Segments.Total, o.Table, o.Buckets, o.Segments.Total)
	}
	for r, d := range o.Digests {
		if err := p.Digests[r].Merge(d); err != nil {
			return err
		}
	}
	if o.Started.Before(p.Started) {
		p.Started = o.Started
	}
	p.Segments.First = min(p.Segments.First, o.Segments.First)
	p.Segments.Last = max(p.Segments.Last, o.Segments.Last)
	return nil
}

// Digest scans the given segments of both tables at once and returns their
// per-bucket digests. Memory is proportional to the bucket count.
func (v *Validator) Digest(ctx context.Context, seg Segments) (*Partial, error) {
	p, _, err := v.digest(ctx, seg, false)
	return p, err
}

// digest is Digest; with keep, it also keeps each side's items for the
// one-pass diff while both sides together fit MaxDiffItems (nil records
// when they did not).
func (v *Validator) digest(ctx context.Context, seg Segments, keep bool) (*Partial, [2][]*records, error) {
	v.defaults()
	var recs [2][]*records
	keys, err := v.keys(ctx)
	if err != nil {
		return nil, recs, err
	}
	p := &Partial{Table: v.Primary.Table, Keys: keys, Segments: seg, Buckets: v.Buckets, Started: v.Now().UTC(), Digests: map[string]digest.Digests{}}
	var k keeper
	if keep {
		k = keeper{left: &atomic.Int64{}, dropped: &atomic.Bool{}}
		k.left.Store(v.MaxDiffItems)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, side := range []Side{v.Primary, v.DR} {
		d := make(digest.Digests, v.Buckets)
		p.Digests[side.Region] = d
		if keep {
			recs[i] = make([]*records, seg.Last-seg.First+1)
			for s := range recs[i] {
				recs[i][s] = &records{}
			}
		}
		wg.Go(func() { errs[i] = v.digestSide(ctx, side, keys, seg, d, recs[i], k) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, recs, err
		}
	}
	if keep && k.dropped.Load() {
		recs = [2][]*records{}
	}
	return p, recs, nil
}

func (v *Validator) keys(ctx context.Context) ([]string, error) {
	pk, err := KeyNames(ctx, v.Primary.DB, v.Primary.Table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Primary.Region, err)
	}
	dk, err := KeyNames(ctx, v.DR.DB, v.DR.Table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.DR.Region, err)
	}
	if strings.Join(pk, ",") != strings.Join(dk, ",") {
		return nil, fmt.Errorf("key schemas differ: %s has %v, %s has %v", v.Primary.Region, pk, v.DR.Region, dk)
	}
	return pk, nil
}

func (v *Validator) digestSide(ctx context.Context, side Side, keys []string, seg Segments, into digest.Digests, recs []*records, k keeper) error {
	per := make([]digest.Digests, seg.Last-seg.First+1)
	hashers := make([]digest.Hasher, len(per))
	for i := range per {
		per[i] = make(digest.Digests, v.Buckets)
		hashers[i] = digest.Hasher{Keys: keys, Buckets: v.Buckets}
	}
	err := Scan(ctx, side.DB, side.Table, seg, false, func(s int, page []map[string]types.AttributeValue) error {
		d, h := per[s-seg.First], &hashers[s-seg.First]
		var r *records
		if recs != nil {
			r = recs[s-seg.First]
			if !k.take(len(page)) {
				*r, r = records{}, nil // over budget: the diff scans again
			}
		}
		for _, it := range page {
			if IsCanary(it, keys[0]) {
				continue
			}
			if r == nil {
				ih, b := h.Item(it)
				d[b].AddItem(ih)
				continue
			}
			var ih digest.Hash
			var b int
			ih, b, r.arena = h.ItemKey(it, r.arena)
			r.add(b, ih)
			d[b].AddItem(ih)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", side.Region, err)
	}
	for _, d := range per {
		if err := into.Merge(d); err != nil {
			return err
		}
	}
	return nil
}

// Run validates the whole table (and the buckets, when configured): the
// digest pass, the diff of differing buckets, the settle recheck.
func (v *Validator) Run(ctx context.Context) (*verdict.Report, error) {
	v.defaults()
	p, recs, err := v.digest(ctx, AllSegments(v.Segments), true)
	if err != nil {
		return nil, err
	}
	return v.compare(ctx, p, recs)
}

// Compare finishes a validation from a (merged) digest pass: it diffs the
// buckets whose digests differ and rechecks differences after the settle
// window.
func (v *Validator) Compare(ctx context.Context, p *Partial) (*verdict.Report, error) {
	return v.compare(ctx, p, [2][]*records{})
}

// compare is Compare; with both sides' records kept by the digest pass,
// the differing buckets are diffed from them, with no second scan.
func (v *Validator) compare(ctx context.Context, p *Partial, recs [2][]*records) (*verdict.Report, error) {
	v.defaults()
	if p.Segments.First != 0 || p.Segments.Last != p.Segments.Total-1 {
		return nil, fmt.Errorf("digests cover segments %d-%d of %d: merge the partials of every range first", p.Segments.First, p.Segments.Last, p.Segments.Total)
	}
	pd, dd := p.Digests[v.Primary.Region], p.Digests[v.DR.Region]
	if len(pd) != p.Buckets || len(dd) != p.Buckets {
		return nil, fmt.Errorf("digests for %s and %s with %d buckets are missing from the partial", v.Primary.Region, v.DR.Region, p.Buckets)
	}
	v.Buckets = p.Buckets
	r := &verdict.Report{
		Table: p.Table, Primary: v.Primary.Region, DR: v.DR.Region, Started: p.Started, Buckets: p.Buckets,
		Items:  map[string]int64{v.Primary.Region: pd.Total().Count, v.DR.Region: dd.Total().Count},
		Digest: map[string]string{v.Primary.Region: pd.Total().String(), v.DR.Region: dd.Total().String()},
	}
	var differing []int
	for b := range pd {
		if pd[b] != dd[b] {
			differing = append(differing, b)
		}
	}
	r.DifferingBuckets = len(differing)
	var cands []candidate
	if recs[0] != nil && recs[1] != nil && len(differing) > 0 {
		got, err := diffRecords(p.Keys, differing, recs[0], recs[1])
		if err != nil {
			return nil, err
		}
		cands, differing = got, nil
	}
	for len(differing) > 0 {
		// A pass takes buckets while their items fit the budget (at least one).
		var n int64
		i := 0
		for i < len(differing) {
			c := max(pd[differing[i]].Count, dd[differing[i]].Count)
			if i > 0 && n+c > v.MaxDiffItems {
				break
			}
			n += c
			i++
		}
		got, err := v.diffPass(ctx, p.Keys, differing[:i])
		if err != nil {
			return nil, err
		}
		cands = append(cands, got...)
		differing = differing[i:]
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].name < cands[j].name })
	if err := v.settle(ctx, p, cands, r); err != nil {
		return nil, err
	}
	if v.Primary.Objects != nil && v.DR.Objects != nil {
		or, err := v.compareObjects(ctx)
		if err != nil {
			return nil, err
		}
		r.Objects = or
	}
	r.Seconds = v.Now().Sub(p.Started).Seconds()
	return r, nil
}

type kind int

const (
	missingInDR kind = iota
	missingInPrimary
	divergent
)

type candidate struct {
	kind kind
	key  digest.Item
	name string
}

type entry struct {
	hash digest.Hash
	key  digest.Item
}

// diffPass scans both tables again, keeping only the items of the given
// buckets, and returns the keys that differ.
func (v *Validator) diffPass(ctx context.Context, keys []string, buckets []int) ([]candidate, error) {
	want := make(map[int]bool, len(buckets))
	for _, b := range buckets {
		want[b] = true
	}
	collect := func(side Side) (map[string]entry, error) {
		var mu sync.Mutex
		got := map[string]entry{}
		hashers := make([]digest.Hasher, v.Segments)
		for i := range hashers {
			hashers[i] = digest.Hasher{Keys: keys, Buckets: v.Buckets}
		}
		err := Scan(ctx, side.DB, side.Table, AllSegments(v.Segments), false, func(s int, page []map[string]types.AttributeValue) error {
			h := &hashers[s]
			for _, it := range page {
				if IsCanary(it, keys[0]) {
					continue
				}
				ih, b := h.Item(it)
				if !want[b] {
					continue
				}
				k := make(digest.Item, len(keys))
				for _, name := range keys {
					k[name] = it[name]
				}
				id := string(digest.AppendKey(nil, it, keys))
				mu.Lock()
				got[id] = entry{hash: ih, key: k}
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side.Region, err)
		}
		return got, nil
	}
	var wg sync.WaitGroup
	var pm, dm map[string]entry
	var perr, derr error
	wg.Go(func() { pm, perr = collect(v.Primary) })
	wg.Go(func() { dm, derr = collect(v.DR) })
	wg.Wait()
	if perr != nil {
		return nil, perr
	}
	if derr != nil {
		return nil, derr
	}
	var out []candidate
	for id, pe := range pm {
		de, ok := dm[id]
		switch {
		case !ok:
			out = append(out, candidate{missingInDR, pe.key, KeyString(pe.key, keys)})
		case de.hash != pe.hash:
			out = append(out, candidate{divergent, pe.key, KeyString(pe.key, keys)})
		}
	}
	for id, de := range dm {
		if _, ok := pm[id]; !ok {
			out = append(out, candidate{missingInPrimary, de.key, KeyString(de.key, keys)})
		}
	}
	return out, nil
}

// settle waits until the settle window has passed since the scan started,
// reads every difference again (consistently, both regions) and reports
// those that remain.
func (v *Validator) settle(ctx context.Context, p *Partial, cands []candidate, r *verdict.Report) error {
	report := func(c candidate) {
		switch c.kind {
		case missingInDR:
			r.MissingInDR.Add(c.name, v.Samples)
		case missingInPrimary:
			r.MissingInPrimary.Add(c.name, v.Samples)
		default:
			r.Divergent.Add(c.name, v.Samples)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	if v.Settle < 0 {
		for _, c := range cands {
			report(c)
		}
		return nil
	}
	recheck := cands
	if len(recheck) > v.MaxRecheck {
		for _, c := range recheck[v.MaxRecheck:] {
			report(c)
		}
		r.NotRechecked = int64(len(recheck) - v.MaxRecheck)
		recheck = recheck[:v.MaxRecheck]
	}
	if wait := p.Started.Add(v.Settle).Sub(v.Now()); wait > 0 {
		if err := v.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	keys := make([]map[string]types.AttributeValue, len(recheck))
	for i, c := range recheck {
		keys[i] = c.key
	}
	var pg, dg map[string]digest.Item
	var perr, derr error
	var wg sync.WaitGroup
	wg.Go(func() { pg, perr = getItems(ctx, v.Primary, p.Keys, keys) })
	wg.Go(func() { dg, derr = getItems(ctx, v.DR, p.Keys, keys) })
	wg.Wait()
	if perr != nil {
		return perr
	}
	if derr != nil {
		return derr
	}
	for _, c := range recheck {
		id := string(digest.AppendKey(nil, c.key, p.Keys))
		pi, pok := pg[id]
		di, dok := dg[id]
		now := c
		switch {
		case !pok && !dok:
			r.Settled++
			continue
		case pok && !dok:
			now.kind = missingInDR
		case !pok && dok:
			now.kind = missingInPrimary
		default:
			if string(digest.AppendCanonical(nil, pi)) == string(digest.AppendCanonical(nil, di)) {
				r.Settled++
				continue
			}
			now.kind = divergent
		}
		report(now)
	}
	return nil
}

// getItems reads keys with consistent BatchGetItem calls of 100.
func getItems(ctx context.Context, side Side, keyNames []string, keys []map[string]types.AttributeValue) (map[string]digest.Item, error) {
	out := make(map[string]digest.Item, len(keys))
	for start := 0; start < len(keys); start += 100 {
		pending := map[string]types.KeysAndAttributes{side.Table: {Keys: keys[start:min(start+100, len(keys))], ConsistentRead: aws.Bool(true)}}
		for tries := 0; len(pending) > 0; tries++ {
			if tries > 0 {
				if err := clock.Sleep(ctx, time.Duration(min(tries, 10))*50*time.Millisecond); err != nil {
					return nil, err
				}
			}
			res, err := side.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("%s: read differences again: %w", side.Region, err)
			}
			for _, it := range res.Responses[side.Table] {
				out[string(digest.AppendKey(nil, it, keyNames))] = it
			}
			pending = res.UnprocessedKeys
		}
	}
	return out, nil
}

// KeyString renders an item's key for people: the hash key's value alone,
// or name=value pairs for a composite key.
func KeyString(item digest.Item, keys []string) string {
	if len(keys) == 1 {
		return valueString(item[keys[0]])
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + valueString(item[k])
	}
	return strings.Join(parts, ",")
}

func valueString(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return x.Value
	case *types.AttributeValueMemberN:
		return x.Value
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("%x", x.Value)
	}
	return fmt.Sprintf("%v", v)
}

// TableSide is a region's copy of a table of the user's (protect apply):
// any key schema, no bucket.
func TableSide(c *region.Clients, table string) Side {
	return Side{Region: c.Name, DB: c.DynamoDB, Table: table}
}

// SideFor is a region's protected table and, with objects, its data bucket,
// by the deployment's names.
func SideFor(c *region.Clients, names region.Names, withObjects bool) Side {
	s := Side{Region: c.Name, DB: c.DynamoDB, Table: names.Table()}
	if withObjects {
		s.Objects = &ObjectSide{S3: c.S3, Bucket: names.Bucket(c.Name)}
	}
	return s
}
