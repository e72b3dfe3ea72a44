package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// LeaseConfig is the lease arithmetic. Term + Epsilon + Delta must fit inside
// the detection window (alarm period × datapoints), so that the lease has run
// out by the time an alarm can trigger a claim.
type LeaseConfig struct {
	// Term is how long one renewal grants. Renewals come every Term/4.
	Term time.Duration
	// Epsilon bounds the difference between any two regions' clocks.
	Epsilon time.Duration
	// Delta bounds how long after its lease check a write may still be
	// applied: the whole write deadline, SDK retries included.
	Delta time.Duration
}

// Lease configurations: the lab (detection window 3 s) and AWS (fast profile
// 30 s; the free profile's 180 s window takes the same lease).
var (
	LabLease = LeaseConfig{Term: 2 * time.Second, Epsilon: 250 * time.Millisecond, Delta: 750 * time.Millisecond}
	AWSLease = LeaseConfig{Term: 20 * time.Second, Epsilon: 500 * time.Millisecond, Delta: 5 * time.Second}
)

// Validate checks the arithmetic against a detection window (0: no check).
func (c LeaseConfig) Validate(window time.Duration) error {
	if c.Term <= 0 || c.Epsilon < 0 || c.Delta <= 0 {
		return fmt.Errorf("lease: term %s, ε %s, δ %s: term and δ must be positive, ε not negative", c.Term, c.Epsilon, c.Delta)
	}
	if window > 0 && c.Term+c.Epsilon+c.Delta > window {
		return fmt.Errorf("lease: term %s + ε %s + δ %s = %s is longer than the detection window %s: shorten the term", c.Term, c.Epsilon, c.Delta, c.Term+c.Epsilon+c.Delta, window)
	}
	return nil
}

// RenewEvery is the renewal interval: a quarter of the term.
func (c LeaseConfig) RenewEvery() time.Duration { return c.Term / 4 }

// Lease is a region's lease item: its holder may acknowledge writes at Epoch
// while now + δ + ε < Until.
type Lease struct {
	Epoch int64     `json:"epoch"`
	Until time.Time `json:"lease_until"`
}

var leaseKey = key("lease", "lease")

func msValue(t time.Time) *types.AttributeValueMemberN {
	if t.IsZero() {
		return &types.AttributeValueMemberN{Value: "0"}
	}
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}

func numValue(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func decodeLease(it map[string]types.AttributeValue) Lease {
	var l Lease
	if e, ok := it["epoch"].(*types.AttributeValueMemberN); ok {
		l.Epoch, _ = strconv.ParseInt(e.Value, 10, 64)
	}
	if u, ok := it["lease_until"].(*types.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(u.Value, 10, 64); err == nil && ms > 0 {
			l.Until = time.UnixMilli(ms).UTC()
		}
	}
	return l
}

// WriteState is what the write path reads: the region's own active record
// and lease item, read together, strongly consistent.
type WriteState struct {
	Active Active
	Lease  Lease
}

// Writable reports whether this store's region may acknowledge a write
// checked at now, and if not, why.
func (w WriteState) Writable(self string, now time.Time, cfg LeaseConfig) error {
	switch {
	case w.Active.Region != self:
		return fmt.Errorf("%s is not the active region (%s is, at epoch %d)", self, w.Active.Region, w.Active.Epoch)
	case w.Active.Hold != "":
		return fmt.Errorf("%s is active at epoch %d but held (%s)", self, w.Active.Epoch, w.Active.Hold)
	case w.Lease.Epoch != w.Active.Epoch:
		return fmt.Errorf("%s holds no lease at epoch %d yet", self, w.Active.Epoch)
	case !now.Add(cfg.Delta + cfg.Epsilon).Before(w.Lease.Until):
		return fmt.Errorf("%s's lease at epoch %d ran out at %s", self, w.Lease.Epoch, w.Lease.Until.Format(time.RFC3339Nano))
	}
	return nil
}

// Holding reports whether self holds a live lease at its record's epoch at
// now (without the write path's δ + ε margin): what /health reports, so a
// renewal that comes a little late does not send routing away.
func (w WriteState) Holding(self string, now time.Time) error {
	switch {
	case w.Active.Region != self:
		return fmt.Errorf("%s is not the active region (%s is, at epoch %d)", self, w.Active.Region, w.Active.Epoch)
	case w.Active.Hold != "":
		return fmt.Errorf("%s is active at epoch %d but held (%s)", self, w.Active.Epoch, w.Active.Hold)
	case w.Lease.Epoch != w.Active.Epoch || !now.Before(w.Lease.Until):
		return fmt.Errorf("%s holds no live lease at epoch %d", self, w.Active.Epoch)
	}
	return nil
}

// WriteState reads the active record and the lease item in one
// transactional (strongly consistent) read.
func (s *Store) WriteState(ctx context.Context) (WriteState, error) {
	out, err := s.c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String(s.table), Key: activeKey}},
		{Get: &types.Get{TableName: aws.String(s.table), Key: leaseKey}},
	}})
	if err != nil {
		return WriteState{}, fmt.Errorf("read control records in %s: %w", s.Region, err)
	}
	if len(out.Responses) != 2 || out.Responses[0].Item == nil {
		return WriteState{}, ErrNoRecord
	}
	a, err := decodeActive(out.Responses[0].Item)
	if err != nil {
		return WriteState{}, err
	}
	var l Lease
	if out.Responses[1].Item != nil {
		l = decodeLease(out.Responses[1].Item)
	}
	return WriteState{Active: a, Lease: l}, nil
}

// Lease reads the region's lease item (zero when there is none).
func (s *Store) Lease(ctx context.Context) (Lease, error) {
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: leaseKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Lease{}, fmt.Errorf("read lease in %s: %w", s.Region, err)
	}
	return decodeLease(out.Item), nil
}

// setLease writes the lease item; lease_until never decreases.
func (s *Store) setLease(ctx context.Context, l Lease) error {
	_, err := s.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table), Key: leaseKey,
		UpdateExpression:          aws.String("SET epoch = :e, lease_until = :u"),
		ConditionExpression:       aws.String("attribute_not_exists(lease_until) OR lease_until <= :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": numValue(l.Epoch), ":u": msValue(l.Until)}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// A racing renewal at the same epoch already wrote a later end:
		// the lease is at least as long as this one.
		if cur, rerr := s.Lease(ctx); rerr == nil && cur.Epoch == l.Epoch && !cur.Until.Before(l.Until) {
			return nil
		}
		return fmt.Errorf("lease in %s: lease_until is already later than %s", s.Region, l.Until.Format(time.RFC3339Nano))
	}
	if err != nil {
		return fmt.Errorf("write lease in %s: %w", s.Region, err)
	}
	return nil
}

// grant extends the record's grant to holder at epoch (a renewal). With
// release it also lifts a hold.
func (s *Store) grant(ctx context.Context, holder string, epoch int64, until time.Time, release bool) error {
	// Never shortened: a grant that lands late (its caller gave up on it,
	// or went on with a majority) must not undo a later renewal's grant, or
	// a claimer could see the holder's grant run out while its lease lives.
	monotonic := " AND (attribute_not_exists(granted_until) OR granted_until <= :g)"
	update, cond := "SET granted_until = :g", "epoch = :e AND active_region = :h AND attribute_not_exists(held_for)"+monotonic
	if release {
		update, cond = "SET granted_until = :g REMOVE held_for, hold_kind, hold_until, from_since", "epoch = :e AND active_region = :h"+monotonic
	}
	_, err := s.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table), Key: activeKey,
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": msValue(until), ":e": numValue(epoch), ":h": &types.AttributeValueMemberS{Value: holder}}})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// A racing renewal (or release: a resumed run racing the one it
		// resumes) of the same holder already granted longer, and no hold
		// is left: the grant is at least this one.
		if a, rerr := s.Active(ctx); rerr == nil && a.Region == holder && a.Epoch == epoch && a.Hold == "" && !a.GrantedUntil.Before(until.Truncate(time.Millisecond)) {
			return nil
		}
	}
	return conflictOr(err, "renew grant in "+s.Region)
}

// claimKind selects a claim's condition.
type claimKind int

const (
	claimNormal   claimKind = iota // the holder's grant ran out, or the claimer holds it
	claimForced                    // no grant test (operator's --force)
	claimHandover                  // the current holder hands over (planned)
	claimRepair                    // the holder re-establishes itself over a stray record (anti-entropy)
)

// claimed is one record's answer to a claim.
type claimed struct {
	rec   Active // the record as the claim left it
	wrote bool   // this call wrote it (false: it already stood at the epoch for the claimer)
}

// claim moves the record to next if the conditions of kind allow it. A
// record already at next for the claimer counts as won, as it stands: a
// resumed claim at the same epoch is idempotent, and never turns a held
// record into an unheld one (a second, unforced run during a forced wait
// once did, and got a lease while the old holder's still ran). An unheld
// record won that way has its grant extended to next's, so the lease the
// claim confirms is never longer than the records grant.
func (s *Store) claim(ctx context.Context, next Active, kind claimKind, cut time.Time, from string, fromEpoch int64, stray *Active) (claimed, error) {
	vals := map[string]types.AttributeValue{":e2": numValue(next.Epoch), ":me": &types.AttributeValueMemberS{Value: next.Region}}
	var cond string
	switch kind {
	case claimNormal:
		cond = "attribute_not_exists(epoch) OR (epoch < :e2 AND (active_region = :me OR attribute_not_exists(granted_until) OR granted_until < :cut))"
		vals[":cut"] = msValue(cut)
	case claimForced:
		cond = "attribute_not_exists(epoch) OR epoch < :e2"
		delete(vals, ":me")
	case claimHandover:
		// The target's own stale record (a fence that never landed on it)
		// moves too: its lease there is long over.
		cond = "(epoch = :e AND active_region = :from AND epoch < :e2) OR (epoch < :e2 AND active_region = :me)"
		vals[":e"] = numValue(fromEpoch)
		vals[":from"] = &types.AttributeValueMemberS{Value: from}
	case claimRepair:
		// The claimer's own records move up unless held (a hold is someone
		// else's decision in flight); the stray record only exactly as read.
		cond = "(epoch < :e2 AND active_region = :me AND attribute_not_exists(held_for))"
		if stray != nil {
			cond += " OR (epoch = :se AND active_region = :sr AND epoch < :e2)"
			vals[":se"] = numValue(stray.Epoch)
			vals[":sr"] = &types.AttributeValueMemberS{Value: stray.Region}
		}
	}
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: activeItem(next),
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		if err != nil {
			return claimed{}, fmt.Errorf("claim epoch %d in %s: %w", next.Epoch, s.Region, err)
		}
		return claimed{rec: next, wrote: true}, nil
	}
	cur, rerr := s.Active(ctx)
	if rerr != nil || cur.Epoch != next.Epoch || cur.Region != next.Region {
		return claimed{}, ErrConflict
	}
	if cur.Hold == "" && next.Hold == "" && !next.GrantedUntil.IsZero() {
		if err := s.grant(ctx, next.Region, next.Epoch, next.GrantedUntil, false); err != nil {
			return claimed{}, err
		}
		if cur.GrantedUntil.Before(next.GrantedUntil) {
			cur.GrantedUntil = next.GrantedUntil.Truncate(time.Millisecond)
		}
	}
	return claimed{rec: cur}, nil
}

func conflictOr(err error, what string) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Quorum runs the lease protocol over the three control records (see the
// package comment). Stores holds the two application regions and, unless
// the deployment runs without one, the witness.
type Quorum struct {
	Stores  []*Store
	Witness string // the witness region's name ("" in two-region mode)
	Lease   LeaseConfig
	// Now is the clock (time.Now when nil); the lab's clock-skew fault
	// offsets it.
	Now func() time.Time
	// ClockBound, when set, measures how far Now may be from true time
	// (|offset| + the measurement's round trip). A claim then trusts its
	// clock only that far: its grant cut-off moves earlier and a forced
	// hold's end later by the bound, and it refuses to claim when the clock
	// cannot be measured or is off by more than a term. Nil: the clock is
	// within ε (a Lambda host, kept by the Amazon Time Sync Service); an
	// operator's laptop is not, so the CLI sets it.
	ClockBound func(ctx context.Context) (time.Duration, error)

	mu       sync.Mutex
	interval leaseInterval // the confirmed lease interval being extended

	// beforeClaimWrites, in tests, runs after a claim has decided and before
	// its writes go out (a claimer's process stalling there).
	beforeClaimWrites func()
}

type leaseInterval struct {
	holder       string
	epoch        int64
	start, until time.Time
}

func (q *Quorum) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// Need is how many records make a majority: two of three, or, in two-region
// mode, the actor's own record alone (best effort).
func (q *Quorum) Need() int {
	if len(q.Stores) >= 3 {
		return 2
	}
	return 1
}

func (q *Quorum) store(r string) *Store {
	for _, s := range q.Stores {
		if s.Region == r {
			return s
		}
	}
	return nil
}

// each runs f on every store in parallel, each call capped at limit, and
// returns the regions where it succeeded and the errors of the others.
func (q *Quorum) each(ctx context.Context, limit time.Duration, f func(ctx context.Context, s *Store) error) (ok []string, errs map[string]error) {
	return q.eachUntil(ctx, limit, f, nil)
}

// eachUntil is each, returning as soon as decided(ok) holds: the calls
// still out go on in the background (bounded by limit) and are not
// reported. A renewal needs a majority, not every grantor: with one grantor
// dead it must not wait out that grantor's limit.
func (q *Quorum) eachUntil(ctx context.Context, limit time.Duration, f func(ctx context.Context, s *Store) error, decided func(ok []string) bool) (ok []string, errs map[string]error) {
	type res struct {
		region string
		err    error
	}
	ch := make(chan res, len(q.Stores))
	for _, s := range q.Stores {
		go func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
			defer cancel()
			ch <- res{s.Region, f(cctx, s)}
		}()
	}
	errs = map[string]error{}
	for range q.Stores {
		var r res
		select {
		case r = <-ch:
		case <-ctx.Done():
			r = res{"", ctx.Err()}
		}
		if r.region == "" {
			break
		}
		if r.err == nil {
			ok = append(ok, r.region)
		} else {
			errs[r.region] = r.err
		}
		if decided != nil && decided(ok) {
			break
		}
	}
	return ok, errs
}

// enough reports whether the regions that said yes make a majority for
// actor (in two-region mode: actor's own record said yes).
func (q *Quorum) enough(ok []string, actor string) bool {
	if q.Need() == 2 {
		return len(ok) >= 2
	}
	for _, r := range ok {
		if r == actor {
			return true
		}
	}
	return false
}

// RenewResult reports one renewal.
type RenewResult struct {
	Granted []string         // records that granted
	Failed  map[string]error // records that did not, and why
	Lease   Lease            // the lease written (zero when not confirmed)
	// Repaired are the records the renewal's anti-entropy brought to the
	// quorum's (epoch, holder, hold) (see repair).
	Repaired []string
}

// ErrNotHolder means the region does not hold the lease: there is nothing to
// renew (its record names another region, or is held).
var ErrNotHolder = errors.New("not the holder")

// Renew renews self's lease if self's own record names it the holder. It
// returns ErrNotHolder when it does not, and an error when fewer than a
// majority granted (the lease then runs out at its old end).
func (q *Quorum) Renew(ctx context.Context, self string) (RenewResult, error) {
	return q.renew(ctx, self, false)
}

// Release lifts a handover's hold on the records at epoch held by self and
// grants self its first lease there.
func (q *Quorum) Release(ctx context.Context, self string, epoch int64) (RenewResult, error) {
	return q.grantAll(ctx, self, epoch, true)
}

func (q *Quorum) renew(ctx context.Context, self string, release bool) (RenewResult, error) {
	own := q.store(self)
	if own == nil {
		return RenewResult{}, fmt.Errorf("renew: no control table for %s", self)
	}
	rctx, cancel := context.WithTimeout(ctx, q.Lease.Term/4)
	a, err := own.Active(rctx)
	cancel()
	if err != nil {
		return RenewResult{}, fmt.Errorf("renew: %w", err)
	}
	if a.Region != self || (a.Hold != "" && !release) {
		return RenewResult{}, ErrNotHolder
	}
	res, err := q.grantAll(ctx, self, a.Epoch, release)
	if err != nil || release {
		return res, err
	}
	res.Repaired = q.repair(ctx, a, res.Lease.Until)
	return res, nil
}

// repair is the renewal's anti-entropy: with a lease just confirmed at
// epoch by a majority, it brings every other reachable record to the
// quorum's (epoch, holder, no hold), so that a step one record missed (a
// claim refused after landing on it, a release or a fence that never
// reached it) is never the seed of a later outage: left alone, such a
// record stops renewals the moment another record becomes unreachable.
//
// Why it is safe: self's lease was granted by two records at epoch, and
// they refuse any claim until that grant has run out (+ε). So while the
// lease is valid — repair ends δ + ε before it, like a write — no other
// region holds or can win a majority at any epoch, and a record off the
// majority holds nothing anyone may write by:
//   - a record at epoch held by self is released (the drain that held it
//     is over: self's own record was released);
//   - a record at a lower epoch is raised to epoch (it is the fence);
//   - a record at a higher epoch (a partial claim) is taken back by a claim
//     of self's at a higher epoch still, over the stray record exactly as
//     read; a held one, or one self holds (a concurrent renewal's repair),
//     only once it is a term old (what is still landing gets the time to
//     finish or fail).
//
// A repair never starts a tenure: the records it writes keep the holder's
// (own, its own record at epoch) Since and tenure start, so a later
// failback's drain still proves every write of the tenure.
//
// It returns the regions whose records it changed.
func (q *Quorum) repair(ctx context.Context, own Active, until time.Time) []string {
	self, epoch := own.Region, own.Epoch
	ctx, cancel := context.WithDeadline(ctx, until.Add(-q.Lease.Delta-q.Lease.Epsilon))
	defer cancel()
	var mu sync.Mutex
	var fixed []string
	var strays []Active
	q.each(ctx, q.Lease.Term/4, func(ctx context.Context, s *Store) error {
		cur, err := s.Active(ctx)
		if err != nil {
			return err
		}
		var done bool
		switch {
		case cur.Epoch == epoch && cur.Region == self && cur.Hold != "":
			done = s.grant(ctx, self, epoch, until, true) == nil
		case cur.Epoch < epoch:
			done = s.Raise(ctx, Active{Region: self, Epoch: epoch, Since: own.Since, Tenure: own.Tenure, GrantedUntil: until}) == nil
		case cur.Epoch > epoch && q.Need() == 2 && ((cur.Hold == "" && cur.Region != self) || q.now().Sub(cur.Since) >= q.Lease.Term):
			// Only with a witness: in two-region mode a record at a higher
			// epoch is the peer's own claim (best effort), not a stray. A
			// held record, or one self holds (a concurrent renewal's repair
			// still landing: two health-check runs overlap, and chasing it
			// would raise the epoch in turns), waits a term.
			mu.Lock()
			strays = append(strays, cur)
			mu.Unlock()
		}
		if done {
			mu.Lock()
			fixed = append(fixed, s.Region)
			mu.Unlock()
		}
		return nil
	})
	// A ctx that ends returns before every call is back; the late ones
	// still append: read under the lock, once, into variables of our own.
	mu.Lock()
	found := slices.Clone(strays)
	repaired := slices.Clone(fixed)
	mu.Unlock()
	for _, st := range found {
		next := st.Epoch + 1
		for _, o := range found {
			next = max(next, o.Epoch+1)
		}
		if r, err := q.claimOver(ctx, self, next, ClaimOptions{Tenure: own.TenureStart()}, &st); err == nil {
			repaired = append(repaired, r.Won...)
			break
		}
	}
	sort.Strings(repaired)
	return slices.Compact(repaired)
}

func (q *Quorum) grantAll(ctx context.Context, self string, epoch int64, release bool) (RenewResult, error) {
	t0 := q.now()
	until := t0.Add(q.Lease.Term)
	ok, errs := q.eachUntil(ctx, q.Lease.Term/4, func(ctx context.Context, s *Store) error {
		return s.grant(ctx, self, epoch, until, release)
	}, func(ok []string) bool { return q.enough(ok, self) })
	res := RenewResult{Granted: ok, Failed: errs}
	if !q.enough(ok, self) {
		return res, fmt.Errorf("renew %s at epoch %d: %d of %d records granted (need %d): %s", self, epoch, len(ok), len(q.Stores), q.Need(), joinErrs(errs))
	}
	return q.confirm(ctx, self, epoch, t0, until, res)
}

// confirm writes the lease item in self's region and journals the interval.
func (q *Quorum) confirm(ctx context.Context, self string, epoch int64, t0, until time.Time, res RenewResult) (RenewResult, error) {
	own := q.store(self)
	l := Lease{Epoch: epoch, Until: until.UTC()}
	lctx, cancel := context.WithTimeout(ctx, q.Lease.Term/4)
	defer cancel()
	if err := own.setLease(lctx, l); err != nil {
		return res, err
	}
	res.Lease = l
	q.mu.Lock()
	iv := q.interval
	if iv.holder != self || iv.epoch != epoch || t0.After(iv.until) {
		iv = leaseInterval{holder: self, epoch: epoch, start: t0.UTC()}
	}
	iv.until = l.Until
	q.interval = iv
	q.mu.Unlock()
	// The interval journal is for audits (drills check that no two overlap);
	// failing to write it does not take the lease back.
	_ = own.journalLease(lctx, iv)
	return res, nil
}

func joinErrs(errs map[string]error) string {
	s := ""
	for r, e := range errs {
		if s != "" {
			s += "; "
		}
		s += r + ": " + e.Error()
	}
	return s
}

// ClaimOptions shapes a claim.
type ClaimOptions struct {
	// Force drops the "grant has run out" test; the claim then waits
	// term + ε + δ before the new holder's first lease.
	Force bool
	// Handover claims on the current holder's behalf (planned failover):
	// the records must be at FromEpoch held by From, From's own record must
	// accept, and the new epoch starts held (Hold) until Release.
	Handover  bool
	From      string
	FromEpoch int64
	Hold      string
	// FromSince is the source's tenure start, kept on the held records
	// (Active.FromSince) for the drain of a resumed handover.
	FromSince time.Time
	// Tenure, for a claim that gives a holder back its writes (a rolled
	// back handover), is when its continuous tenure began (Active.Tenure).
	Tenure time.Time
}

// ClaimResult reports a claim.
type ClaimResult struct {
	Epoch  int64
	Won    []string         // records now at Epoch held by the claimer
	Failed map[string]error // the others
	Lease  Lease            // the claimer's first lease (zero for a handover)
}

// ErrClock means a claim refused to trust its caller's clock: it could not
// be measured, or is off by more than a lease term.
var ErrClock = errors.New("the clock cannot be trusted for a claim")

// ErrHeld means a claim found its epoch held by a planned handover: the
// handover's run finishes it (or the tick resumes it), not a claim.
var ErrHeld = errors.New("held by a planned handover")

// Claim tries to make self the holder at epoch next. It wins with a majority
// of records; otherwise it returns ErrConflict wrapped with the records'
// answers, and leaves the records it did win (a retry uses a higher epoch,
// and the holder's renewal repairs them).
//
// A claim that finds its epoch already won and held on the records (it
// resumes an earlier run) finishes that run's way: a forced hold is waited
// out until its HoldUntil plus ε and then released, whatever this run was
// asked; a handover's hold returns ErrHeld unless this is the handover.
func (q *Quorum) Claim(ctx context.Context, self string, next int64, o ClaimOptions) (ClaimResult, error) {
	return q.claimOver(ctx, self, next, o, nil)
}

func (q *Quorum) claimOver(ctx context.Context, self string, next int64, o ClaimOptions, stray *Active) (ClaimResult, error) {
	if q.beforeClaimWrites != nil {
		q.beforeClaimWrites()
	}
	// A claim from a clock that may be off trusts it only as far as it
	// was measured.
	// A handover's clock is measured too, though the source's own record
	// is what makes it safe: its Since is the new holder's tenure start,
	// from which a later failback's drain proves writes (Active.FromSince),
	// so every claim's Since is within a term (+ε) of true time.
	var bound time.Duration
	if q.ClockBound != nil {
		b, err := q.ClockBound(ctx)
		switch {
		case err != nil:
			return ClaimResult{Epoch: next}, fmt.Errorf("claim epoch %d for %s: %w: %v", next, self, ErrClock, err)
		case b > q.Lease.Term:
			return ClaimResult{Epoch: next}, fmt.Errorf("claim epoch %d for %s: %w: this clock may be %s off, more than the lease term %s: fix its time sync", next, self, ErrClock, b.Round(time.Millisecond), q.Lease.Term)
		}
		bound = b
	}
	// The claim's times are taken after any stall, just before its writes.
	t0 := q.now()
	rec := Active{Region: self, Epoch: next, Since: t0.UTC(), GrantedUntil: t0.Add(q.Lease.Term).UTC(), Tenure: o.Tenure}
	kind := claimNormal
	// Each call is capped at half a term: claims are rarer than renewals,
	// and a lost one costs a retry at a higher epoch.
	limit := q.Lease.Term / 2
	switch {
	case o.Handover:
		kind, rec.GrantedUntil, rec.Hold, rec.HoldKind, rec.FromSince = claimHandover, time.Time{}, o.Hold, HoldHandover, o.FromSince.UTC()
		if rec.Hold == "" {
			rec.Hold = "handover"
		}
	case o.Force:
		// Held, so the new holder's own health check cannot renew before
		// the old lease has surely run out. Every write of this claim lands
		// by t0 + limit or never, and the old holder cannot renew past a
		// majority of them: HoldUntil bounds its lease (+ε, +δ) for anyone
		// who resumes this run without this process's monotonic clock.
		kind, rec.GrantedUntil, rec.HoldKind = claimForced, time.Time{}, HoldForced
		rec.HoldUntil = t0.Add(limit + q.Lease.Term + q.Lease.Epsilon + q.Lease.Delta + bound).UTC()
		rec.Hold = "forced: waiting out the old lease, until " + rec.HoldUntil.Format(time.RFC3339Nano)
	case stray != nil:
		kind = claimRepair
	}
	cut := t0.Add(-q.Lease.Epsilon - bound)
	var mu sync.Mutex
	got := map[string]claimed{}
	ok, errs := q.each(ctx, limit, func(ctx context.Context, s *Store) error {
		c, err := s.claim(ctx, rec, kind, cut, o.From, o.FromEpoch, stray)
		if err == nil {
			mu.Lock()
			got[s.Region] = c
			mu.Unlock()
		}
		return err
	})
	// Every write that won has landed by now (monotonic clock): the forced
	// wait counts from here.
	landed := time.Now()
	// A canceled ctx returns before every call is back: the ones still out
	// write got later, so read it under the lock, once.
	mu.Lock()
	won := make(map[string]claimed, len(got))
	for r, c := range got {
		won[r] = c
	}
	mu.Unlock()
	res := ClaimResult{Epoch: next, Won: ok, Failed: errs}
	if !q.enough(ok, self) {
		return res, fmt.Errorf("claim epoch %d for %s: %d of %d records (need %d): %w (%s)", next, self, len(ok), len(q.Stores), q.Need(), ErrConflict, joinErrs(errs))
	}
	// What the won records say decides how the claim ends: a record found
	// held (an earlier run's) keeps its hold and its kind.
	var forced, handover bool
	var holdUntil time.Time
	for _, c := range won {
		switch c.rec.Kind() {
		case HoldForced:
			forced = true
			if !c.wrote && c.rec.HoldUntil.After(holdUntil) {
				holdUntil = c.rec.HoldUntil
			}
		case HoldHandover:
			handover = true
		}
	}
	switch {
	case o.Handover:
		if !contains(ok, o.From) {
			return res, fmt.Errorf("handover from %s: its own record did not take epoch %d, so it may still write: %w", o.From, next, ErrConflict)
		}
		// The old holder's own record has moved: its transactions check
		// the record's epoch, so nothing commits there from now on, whatever
		// its lease item says. Its journaled lease ends here.
		_ = q.store(o.From).revoke(ctx, o.From, o.FromEpoch, q.now())
		return res, nil
	case handover:
		return res, fmt.Errorf("claim epoch %d for %s: %w", next, self, ErrHeld)
	case forced || o.Force:
		// Until the claim stands on a majority the old holder may still
		// renew — and a starved or slow claimer's writes can land seconds
		// after it decided — so the wait counts from when they had all
		// landed, not from when the claim began: the old holder's last
		// grant came before that, and runs out within a term of it. Allow
		// ε for its clock and δ for its last write to land. A hold found
		// from an earlier run is waited out by its HoldUntil (its claimer's
		// clock) plus ε for the difference from this one's.
		wait := q.Lease.Term + q.Lease.Epsilon + q.Lease.Delta - time.Since(landed)
		if !o.Force {
			wait = 0
		}
		if !holdUntil.IsZero() {
			wait = max(wait, holdUntil.Add(q.Lease.Epsilon).Sub(q.now()))
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(wait):
			}
		}
		r, err := q.Release(ctx, self, next)
		res.Lease = r.Lease
		return res, err
	}
	r, err := q.confirm(ctx, self, next, t0, rec.GrantedUntil, RenewResult{Granted: ok, Failed: errs})
	res.Lease = r.Lease
	return res, err
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// View is what the three records say together.
type View struct {
	// Active is the holder of the highest epoch present on a majority of
	// records (zero Region when no epoch is: no region is active).
	Active  Active
	Records map[string]Active // per region; missing when unreadable
	Errors  map[string]error
}

// agreed picks, among the records at a's (holder, epoch), the one whose
// hold and grant the view reports, the same whichever order the records
// were read in: the holder's own record when it agrees (its write path
// reads that one), else a held one (a hold not yet lifted everywhere
// still stops renewals there), else the latest grant.
func (v View) agreed(a Active) Active {
	if a.Region == "" {
		return a
	}
	if own, ok := v.Records[a.Region]; ok && own.Epoch == a.Epoch && own.Region == a.Region {
		return own
	}
	regions := make([]string, 0, len(v.Records))
	for r := range v.Records {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var best Active
	found := false
	for _, r := range regions {
		x := v.Records[r]
		if x.Epoch != a.Epoch || x.Region != a.Region {
			continue
		}
		switch {
		case !found:
			best, found = x, true
		case (x.Hold != "") != (best.Hold != ""):
			if x.Hold != "" {
				best = x
			}
		case x.GrantedUntil.After(best.GrantedUntil):
			best = x
		}
	}
	return best
}

// HighestEpoch is the highest epoch on any readable record.
func (v View) HighestEpoch() int64 {
	var e int64
	for _, a := range v.Records {
		e = max(e, a.Epoch)
	}
	return e
}

// Read reads every record (each call capped at limit) and works out the
// active region: the holder of the highest epoch present on a majority.
func (q *Quorum) Read(ctx context.Context, limit time.Duration) (View, error) {
	var mu sync.Mutex
	read := map[string]Active{}
	_, errs := q.each(ctx, limit, func(ctx context.Context, s *Store) error {
		a, err := s.Active(ctx)
		if err == nil {
			mu.Lock()
			read[s.Region] = a
			mu.Unlock()
		}
		return err
	})
	// Calls still out when ctx ended write later: copy under the lock.
	v := View{Records: map[string]Active{}}
	mu.Lock()
	for r, a := range read {
		v.Records[r] = a
	}
	mu.Unlock()
	v.Errors = errs
	need := q.Need()
	if need == 1 {
		need = len(q.Stores) // two-region mode: both records must agree
	}
	type hk struct {
		region string
		epoch  int64
	}
	count := map[hk]int{}
	for _, a := range v.Records {
		count[hk{a.Region, a.Epoch}]++
	}
	for _, a := range v.Records {
		if count[hk{a.Region, a.Epoch}] >= need && a.Epoch > v.Active.Epoch {
			v.Active = a
		}
	}
	v.Active = v.agreed(v.Active)
	if len(v.Records) < need {
		return v, fmt.Errorf("read control records: %d of %d readable (need %d): %s", len(v.Records), len(q.Stores), need, joinErrs(errs))
	}
	return v, nil
}

// ExpireAttr is the control tables' TTL attribute (the templates enable
// TTL on it): the journaled lease intervals and revocations carry it.
const ExpireAttr = "expire_at"

// Interval is one confirmed lease interval, journaled by its holder.
type Interval struct {
	Holder string    `json:"holder"`
	Epoch  int64     `json:"epoch"`
	Start  time.Time `json:"start"`
	Until  time.Time `json:"until"`
}

func (s *Store) journalLease(ctx context.Context, iv leaseInterval) error {
	it := key("leases", fmt.Sprintf("%012d#%015d", iv.epoch, iv.start.UnixMilli()))
	it["holder"] = &types.AttributeValueMemberS{Value: iv.holder}
	it["epoch"] = numValue(iv.epoch)
	it["start"] = msValue(iv.start)
	it["until"] = msValue(iv.until)
	// Kept for a week: the control tables' TTL attribute.
	it[ExpireAttr] = numValue(iv.until.Add(7 * 24 * time.Hour).Unix())
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it})
	return err
}

// revoke ends the journaled lease intervals of holder at epoch at t: a
// handover moved the holder's own record, after which nothing commits there.
// It journals the revocation itself, so a renewal that was in flight during
// the handover (its grants landed before the records moved, its interval is
// journaled after) is cut at t too when the intervals are read.
func (s *Store) revoke(ctx context.Context, holder string, epoch int64, t time.Time) error {
	it := key("leases", fmt.Sprintf("%012d#revoked#%s", epoch, holder))
	it["holder"] = &types.AttributeValueMemberS{Value: holder}
	it["epoch"] = numValue(epoch)
	it["revoked"] = msValue(t)
	it[ExpireAttr] = numValue(t.Add(7 * 24 * time.Hour).Unix())
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it})
	if err != nil {
		return fmt.Errorf("journal the revocation of %s@%d in %s: %w", holder, epoch, s.Region, err)
	}
	return nil
}

// Intervals returns the confirmed lease intervals journaled in this region.
func (s *Store) Intervals(ctx context.Context) ([]Interval, error) {
	var out []Interval
	type revocation struct {
		holder string
		epoch  int64
	}
	revoked := map[revocation]time.Time{}
	p := dynamodb.NewQueryPaginator(s.c, &dynamodb.QueryInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "leases"}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read lease intervals in %s: %w", s.Region, err)
		}
		for _, it := range page.Items {
			if v, ok := it["revoked"].(*types.AttributeValueMemberN); ok {
				ms, _ := strconv.ParseInt(v.Value, 10, 64)
				l := decodeLease(map[string]types.AttributeValue{"epoch": it["epoch"]})
				h, _ := it["holder"].(*types.AttributeValueMemberS)
				if h != nil {
					revoked[revocation{h.Value, l.Epoch}] = time.UnixMilli(ms).UTC()
				}
				continue
			}
			iv := Interval{}
			if v, ok := it["holder"].(*types.AttributeValueMemberS); ok {
				iv.Holder = v.Value
			}
			l := decodeLease(map[string]types.AttributeValue{"epoch": it["epoch"], "lease_until": it["until"]})
			iv.Epoch, iv.Until = l.Epoch, l.Until
			if v, ok := it["start"].(*types.AttributeValueMemberN); ok {
				ms, _ := strconv.ParseInt(v.Value, 10, 64)
				iv.Start = time.UnixMilli(ms).UTC()
			}
			out = append(out, iv)
		}
	}
	for i, iv := range out {
		if t, ok := revoked[revocation{iv.Holder, iv.Epoch}]; ok && iv.Until.After(t) {
			out[i].Until = t
		}
	}
	return out, nil
}

// Overlaps returns the pairs of intervals of different holders that
// overlap: it must be empty, or two regions could have acknowledged writes
// at the same time. (One region holding two epochs at once — a handover that
// could not move its own record, then rolled back — writes to one table.)
func Overlaps(ivs []Interval) [][2]Interval {
	var out [][2]Interval
	for i := range ivs {
		for j := i + 1; j < len(ivs); j++ {
			a, b := ivs[i], ivs[j]
			if a.Holder == b.Holder {
				continue
			}
			if a.Start.Before(b.Until) && b.Start.Before(a.Until) {
				out = append(out, [2]Interval{a, b})
			}
		}
	}
	return out
}

// Keep renews self's lease now and every RenewEvery until d has passed (a
// health-check invocation's share of its schedule) or ctx ends, calling
// report after each attempt. A region that does not hold the lease only
// looks (ErrNotHolder), so both regions' health checks run it.
func (q *Quorum) Keep(ctx context.Context, self string, d time.Duration, report func(RenewResult, error)) {
	end := time.Now().Add(d)
	for {
		// The next renewal is due RenewEvery after this one began, however
		// long this one took: the lease runs from the renewal's start.
		began := time.Now()
		res, err := q.Renew(ctx, self)
		if report != nil {
			report(res, err)
		}
		next := began.Add(q.Lease.RenewEvery())
		if err != nil && !errors.Is(err, ErrNotHolder) {
			// A failed renewal is tried again soon: the write path stops
			// δ + ε before the lease ends, so two misses in a row cost writes.
			next = time.Now().Add(q.Lease.RenewEvery() / 4)
		}
		if !next.Before(end) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
	}
}
