package control

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

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
	rec   record.Active // the record as the claim left it
	wrote bool          // this call wrote it (false: it already stood at the epoch for the claimer)
}

// claim moves the record to next if the conditions of kind allow it. A
// record already at next for the claimer counts as won, as it stands: a
// resumed claim at the same epoch is idempotent, and never turns a held
// record into an unheld one (a second, unforced run during a forced wait
// once did, and got a lease while the old holder's still ran). An unheld
// record won that way has its grant extended to next's, so the lease the
// claim confirms is never longer than the records grant.
func (s *Store) claim(ctx context.Context, next record.Active, kind claimKind, cut time.Time, from string, fromEpoch int64, stray *record.Active) (claimed, error) {
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
	Lease  record.Lease     // the claimer's first lease (zero for a handover)
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

func (q *Quorum) claimOver(ctx context.Context, self string, next int64, o ClaimOptions, stray *record.Active) (ClaimResult, error) {
	if q.beforeClaimWrites != nil {
		q.beforeClaimWrites()
	}
	bound, err := q.claimClock(ctx, self, next)
	if err != nil {
		return ClaimResult{Epoch: next}, err
	}
	// The claim's times are taken after any stall, just before its writes.
	t0 := q.now()
	// Each call is capped at half a term: claims are rarer than renewals,
	// and a lost one costs a retry at a higher epoch.
	limit := q.Lease.Term / 2
	rec, kind := q.claimRecord(self, next, o, stray, t0, limit, bound)
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
	return q.endClaim(ctx, self, next, o, res, won, landed, t0, rec.GrantedUntil)
}

// claimClock is how far off the claimer's clock may be: a claim from a
// clock that may be off trusts it only as far as it was measured. A
// handover's clock is measured too, though the source's own record is
// what makes it safe: its Since is the new holder's tenure start, from
// which a later failback's drain proves writes (Active.FromSince), so
// every claim's Since is within a term (+ε) of true time.
func (q *Quorum) claimClock(ctx context.Context, self string, next int64) (time.Duration, error) {
	if q.ClockBound == nil {
		return 0, nil
	}
	b, err := q.ClockBound(ctx)
	switch {
	case err != nil:
		return 0, fmt.Errorf("claim epoch %d for %s: %w: %v", next, self, ErrClock, err)
	case b > q.Lease.Term:
		return 0, fmt.Errorf("claim epoch %d for %s: %w: this clock may be %s off, more than the lease term %s: fix its time sync", next, self, ErrClock, b.Round(time.Millisecond), q.Lease.Term)
	}
	return b, nil
}

// claimRecord is the record a claim writes at t0, and its kind.
func (q *Quorum) claimRecord(self string, next int64, o ClaimOptions, stray *record.Active, t0 time.Time, limit, bound time.Duration) (record.Active, claimKind) {
	rec := record.Active{Region: self, Epoch: next, Since: t0.UTC(), GrantedUntil: t0.Add(q.Lease.Term).UTC(), Tenure: o.Tenure}
	kind := claimNormal
	switch {
	case o.Handover:
		kind, rec.GrantedUntil, rec.Hold, rec.HoldKind, rec.FromSince = claimHandover, time.Time{}, o.Hold, record.HoldHandover, o.FromSince.UTC()
		if rec.Hold == "" {
			rec.Hold = "handover"
		}
	case o.Force:
		// Held, so the new holder's own health check cannot renew before
		// the old lease has surely run out. Every write of this claim lands
		// by t0 + limit or never, and the old holder cannot renew past a
		// majority of them: HoldUntil bounds its lease (+ε, +δ) for anyone
		// who resumes this run without this process's monotonic clock.
		kind, rec.GrantedUntil, rec.HoldKind = claimForced, time.Time{}, record.HoldForced
		rec.HoldUntil = t0.Add(limit + q.Lease.Term + q.Lease.Epsilon + q.Lease.Delta + bound).UTC()
		rec.Hold = "forced: waiting out the old lease, until " + rec.HoldUntil.Format(time.RFC3339Nano)
	case stray != nil:
		kind = claimRepair
	}
	return rec, kind
}

// endClaim ends a claim that won a majority the way the won records say:
// a record found held (an earlier run's) keeps its hold and its kind.
func (q *Quorum) endClaim(ctx context.Context, self string, next int64, o ClaimOptions, res ClaimResult, won map[string]claimed, landed, t0, grantedUntil time.Time) (ClaimResult, error) {
	var forced, handover bool
	var holdUntil time.Time
	for _, c := range won {
		switch c.rec.Kind() {
		case record.HoldForced:
			forced = true
			if !c.wrote && c.rec.HoldUntil.After(holdUntil) {
				holdUntil = c.rec.HoldUntil
			}
		case record.HoldHandover:
			handover = true
		}
	}
	switch {
	case o.Handover:
		if !contains(res.Won, o.From) {
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
	r, err := q.confirm(ctx, self, next, t0, grantedUntil, RenewResult{Granted: res.Won, Failed: res.Failed})
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
