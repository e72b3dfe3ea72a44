package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

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
	Lease   record.Lease     // the lease written (zero when not confirmed)
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
func (q *Quorum) repair(ctx context.Context, own record.Active, until time.Time) []string {
	self, epoch := own.Region, own.Epoch
	ctx, cancel := context.WithDeadline(ctx, until.Add(-q.Lease.Delta-q.Lease.Epsilon))
	defer cancel()
	var mu sync.Mutex
	var fixed []string
	var strays []record.Active
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
			done = s.Raise(ctx, record.Active{Region: self, Epoch: epoch, Since: own.Since, Tenure: own.Tenure, GrantedUntil: until}) == nil
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
	l := record.Lease{Epoch: epoch, Until: until.UTC()}
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
