package control_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
)

func TestMain(m *testing.M) { labtest.Main(m) }

const (
	east    = "us-east-1"
	west    = "us-west-2"
	witness = "us-east-2"
)

// A short term keeps the tests quick; the arithmetic is the lab's.
var cfg = control.LeaseConfig{Term: 2 * time.Second, Epsilon: 100 * time.Millisecond, Delta: 200 * time.Millisecond}

type fixture struct {
	l      *lab.Lab
	names  region.Names
	stores map[string]*control.Store
}

// newFixture gives a test control tables of its own in the three lab
// regions, each starting at {us-east-1, epoch 1} with no grant.
func newFixture(t *testing.T) fixture {
	t.Helper()
	names := labtest.Provision(t, "ctl")
	return fixture{l: labtest.Lab(t), names: names, stores: labtest.Stores(t, names, 1)}
}

// quorum is one region's view of the protocol (each region runs its own).
func (f fixture) quorum(clock func() time.Time) *control.Quorum {
	return &control.Quorum{Stores: []*control.Store{f.stores[east], f.stores[west], f.stores[witness]}, Witness: witness, Lease: cfg, Now: clock}
}

func writable(t *testing.T, ctx context.Context, s *control.Store, at time.Time) error {
	t.Helper()
	ws, err := s.WriteState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ws.Writable(s.Region, at, cfg)
}

func TestLeaseArithmetic(t *testing.T) {
	tests := []struct {
		name   string
		cfg    control.LeaseConfig
		window time.Duration
		ok     bool
	}{
		{"lab fits its 3s window", control.LabLease, 3 * time.Second, true},
		{"aws fits the fast profile's 30s", control.AWSLease, 30 * time.Second, true},
		{"too long a term", control.LeaseConfig{Term: 3 * time.Second, Epsilon: time.Second, Delta: time.Second}, 3 * time.Second, false},
		{"no term", control.LeaseConfig{Delta: time.Second}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(tc.window); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
	now := time.Now()
	ws := control.WriteState{Active: record.Active{Region: east, Epoch: 3}, Lease: record.Lease{Epoch: 3, Until: now.Add(cfg.Delta + cfg.Epsilon + time.Millisecond)}}
	if err := ws.Writable(east, now, cfg); err != nil {
		t.Fatalf("a lease 1ms beyond now+δ+ε must allow a write: %v", err)
	}
	if err := ws.Writable(east, now.Add(time.Millisecond), cfg); err == nil {
		t.Fatal("a lease ending exactly at now+δ+ε must refuse")
	}
	if err := ws.Writable(west, now, cfg); err == nil {
		t.Fatal("a region that is not the holder must refuse")
	}
	ws.Lease.Epoch = 2
	if err := ws.Writable(east, now, cfg); err == nil {
		t.Fatal("a lease at an older epoch must refuse")
	}
}

func TestRenewGrantsAndConfirms(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	q := f.quorum(nil)
	if err := writable(t, ctx, f.stores[east], time.Now()); err == nil {
		t.Fatal("before the first renewal there is no lease: the write path must refuse")
	}
	res, err := q.Renew(ctx, east)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Granted) < 2 {
		t.Fatalf("granted by %v, want a majority", res.Granted)
	}
	if err := writable(t, ctx, f.stores[east], time.Now()); err != nil {
		t.Fatalf("after a renewal the holder may write: %v", err)
	}
	if _, err := q.Renew(ctx, west); !errors.Is(err, control.ErrNotHolder) {
		t.Fatalf("renew by a region that does not hold: %v, want ErrNotHolder", err)
	}
	// The lease runs out without renewals: the write path refuses by its
	// own clock, with no one telling it.
	if err := writable(t, ctx, f.stores[east], res.Lease.Until.Add(-cfg.Delta-cfg.Epsilon)); err == nil {
		t.Fatal("at lease_until − δ − ε the write path must refuse")
	}
	ivs, err := f.stores[east].Intervals(ctx)
	if err != nil || len(ivs) != 1 || ivs[0].Holder != east || ivs[0].Epoch != 1 {
		t.Fatalf("journaled intervals %+v, %v; want one at epoch 1 held by %s", ivs, err, east)
	}
}

func TestRenewWithOneGrantorDead(t *testing.T) {
	for _, dead := range []string{west, witness} {
		t.Run(dead, func(t *testing.T) {
			f, ctx := newFixture(t), labtest.Context(t)
			if err := f.l.Cut(dead, region.DynamoDB); err != nil {
				t.Fatal(err)
			}
			defer f.l.Restore(dead)
			res, err := f.quorum(nil).Renew(ctx, east)
			if err != nil {
				t.Fatalf("two of three records must keep the lease: %v", err)
			}
			if _, failed := res.Failed[dead]; !failed || len(res.Granted) != 2 {
				t.Fatalf("granted %v failed %v; want %s failed and two grants", res.Granted, res.Failed, dead)
			}
		})
	}
	t.Run("two dead", func(t *testing.T) {
		f, ctx := newFixture(t), labtest.Context(t)
		for _, r := range []string{west, witness} {
			if err := f.l.Cut(r, region.DynamoDB); err != nil {
				t.Fatal(err)
			}
			defer f.l.Restore(r)
		}
		if _, err := f.quorum(nil).Renew(ctx, east); err == nil {
			t.Fatal("one grant of three must not confirm a lease")
		}
		if err := writable(t, ctx, f.stores[east], time.Now()); err == nil {
			t.Fatal("without a confirmed lease the primary must not write")
		}
	})
}

func TestClaimWaitsForTheGrantToRunOut(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	q := f.quorum(nil)
	r1, err := q.Renew(ctx, east)
	if err != nil {
		t.Fatal(err)
	}
	// While east's grant is valid on the records, west cannot claim.
	res, err := f.quorum(nil).Claim(ctx, west, 2, control.ClaimOptions{})
	if !errors.Is(err, control.ErrConflict) || len(res.Won) != 0 {
		t.Fatalf("claim during a valid grant: won %v, err %v; want none", res.Won, err)
	}
	// With a clock past the grant's end + ε, the claim wins; east's own
	// record is cut off (the primary is down), so the claim is partial but
	// a majority.
	if err := f.l.Cut(east, region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	late := func() time.Time { return r1.Lease.Until.Add(cfg.Epsilon + time.Millisecond) }
	res, err = f.quorum(late).Claim(ctx, west, 2, control.ClaimOptions{})
	if err != nil {
		t.Fatalf("claim after the grant ran out: %v", err)
	}
	if len(res.Won) != 2 || res.Lease.Epoch != 2 {
		t.Fatalf("won %v lease %+v; want west and the witness, a lease at epoch 2", res.Won, res.Lease)
	}
	f.l.Restore(east)
	// East comes back with its own record still at epoch 1: it cannot renew
	// (two records are at epoch 2) and its old lease is over.
	if _, err := q.Renew(ctx, east); err == nil {
		t.Fatal("a returning old holder renewed against a majority at a higher epoch")
	}
	if err := writable(t, ctx, f.stores[east], late()); err == nil {
		t.Fatal("the returning old holder may write")
	}
	v, err := q.Read(ctx, time.Second)
	if err != nil || v.Active.Region != west || v.Active.Epoch != 2 {
		t.Fatalf("view %+v, %v; want west at epoch 2", v.Active, err)
	}
	if v.Records[east].Epoch != 1 {
		t.Fatalf("east's own record %+v: the partial claim did not touch it", v.Records[east])
	}
}

func TestRacingClaimsElectOne(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	// No grants yet: every record's grant has run out. Two claimers race for
	// the same epoch from different regions.
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i, r := range []string{east, west} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = f.quorum(nil).Claim(ctx, r, 5, control.ClaimOptions{})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		if err == nil {
			wins++
		}
	}
	if wins > 1 {
		t.Fatal("two claimers both won epoch 5")
	}
	v, err := f.quorum(nil).Read(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if wins == 1 && v.Active.Epoch != 5 {
		t.Fatalf("a claim won but the view says %+v", v.Active)
	}
	// Whatever the race left, a retry at a higher epoch settles it.
	if _, err := f.quorum(nil).Claim(ctx, west, 6, control.ClaimOptions{}); err != nil && wins == 0 {
		t.Fatalf("retry at a higher epoch: %v", err)
	}
}

func TestForcedClaimWaitsOutTheOldLease(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	r1, err := f.quorum(nil).Renew(ctx, east)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// West's own health check renews all along: it must not get a lease
	// before the forced wait is over.
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewed := make(chan []record.Lease, 1)
	go func() {
		var got []record.Lease
		for renewCtx.Err() == nil {
			if r, err := f.quorum(nil).Renew(renewCtx, west); err == nil {
				got = append(got, r.Lease)
			}
			time.Sleep(20 * time.Millisecond) // the renewal cadence of this stand-in health check
		}
		renewed <- got
	}()
	res, err := f.quorum(nil).Claim(ctx, west, 2, control.ClaimOptions{Force: true})
	stopRenew()
	for _, l := range <-renewed {
		if !l.Until.Add(-cfg.Term).After(r1.Lease.Until) {
			t.Fatalf("west's health check renewed into a lease starting %s, before the old one ended at %s", l.Until.Add(-cfg.Term), r1.Lease.Until)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	// The new lease may begin only once east's has run out, with ε to spare.
	if !res.Lease.Until.Add(-cfg.Term).After(r1.Lease.Until) {
		t.Fatalf("forced lease %s starts before the old lease ended at %s", res.Lease.Until.Add(-cfg.Term), r1.Lease.Until)
	}
	if time.Since(start) < cfg.Term {
		t.Fatal("a forced claim acknowledged before a whole term had passed")
	}
	ivs := intervals(t, ctx, f)
	if o := record.Overlaps(ivs); len(o) > 0 {
		t.Fatalf("lease intervals overlap: %+v", o)
	}
}

// A forced claimer whose process stalls between deciding and writing (a
// starved process, slow calls) must not count the stall as part of its
// wait: the old holder renews all through it, and the new lease may begin
// only a term + ε + δ after the claim landed. Counting from when the claim
// began let two journaled leases overlap in a race-instrumented chaos run.
func TestForcedClaimWaitsFromWhenItLanded(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	holder := f.quorum(nil)
	if _, err := holder.Renew(ctx, east); err != nil {
		t.Fatal(err)
	}
	// East's health check renews all along, as long as it may.
	renewCtx, stopRenew := context.WithCancel(ctx)
	last := make(chan record.Lease, 1)
	go func() {
		var l record.Lease
		for renewCtx.Err() == nil {
			if r, err := holder.Renew(renewCtx, east); err == nil {
				l = r.Lease
			}
			time.Sleep(20 * time.Millisecond) // the renewal cadence of this stand-in health check
		}
		last <- l
	}()
	claimer := f.quorum(nil)
	stall := cfg.Term + cfg.Epsilon // longer than the wait has left to run
	claimer.StallClaims(func() { time.Sleep(stall) })
	res, err := claimer.Claim(ctx, west, 2, control.ClaimOptions{Force: true})
	stopRenew()
	old := <-last
	if err != nil {
		t.Fatal(err)
	}
	if old.Until.IsZero() {
		t.Fatal("east never renewed during the claimer's stall")
	}
	if start := res.Lease.Until.Add(-cfg.Term); !start.After(old.Until) {
		t.Fatalf("forced lease starts %s, before east's last renewal ran out at %s", start.Format(time.RFC3339Nano), old.Until.Format(time.RFC3339Nano))
	}
	if o := record.Overlaps(intervals(t, ctx, f)); len(o) > 0 {
		t.Fatalf("lease intervals overlap: %+v", o)
	}
}

func TestHandoverHoldsUntilRelease(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	if _, err := f.quorum(nil).Renew(ctx, east); err != nil {
		t.Fatal(err)
	}
	res, err := f.quorum(nil).Claim(ctx, west, 2, control.ClaimOptions{Handover: true, From: east, FromEpoch: 1, Hold: "draining"})
	if err != nil {
		t.Fatalf("handover: %v", err)
	}
	if len(res.Won) != 3 {
		t.Fatalf("handover won %v; want every record", res.Won)
	}
	// Neither region may write while held: east's record moved, west is held.
	for _, r := range []string{east, west} {
		if err := writable(t, ctx, f.stores[r], time.Now()); err == nil {
			t.Fatalf("%s may write during a handover hold", r)
		}
	}
	if _, err := f.quorum(nil).Renew(ctx, west); !errors.Is(err, control.ErrNotHolder) {
		t.Fatalf("renew during the hold: %v, want ErrNotHolder", err)
	}
	if _, err := f.quorum(nil).Release(ctx, west, 2); err != nil {
		t.Fatal(err)
	}
	if err := writable(t, ctx, f.stores[west], time.Now()); err != nil {
		t.Fatalf("after release west may write: %v", err)
	}
	// A handover with the source unreachable must not report success.
	if err := f.l.Cut(west, region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	defer f.l.Restore(west)
	if _, err := f.quorum(nil).Claim(ctx, east, 3, control.ClaimOptions{Handover: true, From: west, FromEpoch: 2}); err == nil {
		t.Fatal("a handover whose source record did not move reported success")
	}
}

// A renewal in flight during a handover (its grants landed before the
// records moved, its interval is journaled after) must not extend the old
// holder's journaled lease past the handover: its own record moved, so
// nothing commits there after it.
func TestRenewalInFlightDuringHandoverEndsAtTheHandover(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	q := f.quorum(nil)
	res, err := q.Renew(ctx, east)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := q.Claim(ctx, west, 2, control.ClaimOptions{Handover: true, From: east, FromEpoch: 1, Hold: "draining"}); err != nil {
		t.Fatal(err)
	}
	handedOver := time.Now()
	if err := q.ConfirmLate(ctx, east, 1, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Release(ctx, west, 2); err != nil {
		t.Fatal(err)
	}
	ivs, err := f.stores[east].Intervals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, iv := range ivs {
		if iv.Holder == east && iv.Until.After(handedOver) {
			t.Fatalf("east's journaled lease %+v runs past the handover at %s (first lease until %s)", iv, handedOver.Format(time.RFC3339Nano), res.Lease.Until.Format(time.RFC3339Nano))
		}
	}
	all := ivs
	for _, r := range []string{west, witness} {
		more, err := f.stores[r].Intervals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, more...)
	}
	if o := record.Overlaps(all); len(o) > 0 {
		t.Fatalf("leases overlap: %+v", o)
	}
}

func TestTwoRegionModeIsBestEffort(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	q := &control.Quorum{Stores: []*control.Store{f.stores[east], f.stores[west]}, Lease: cfg}
	if err := f.l.Cut(west, region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	defer f.l.Restore(west)
	if _, err := q.Renew(ctx, east); err != nil {
		t.Fatalf("two-region mode: the holder's own record is enough: %v", err)
	}
}

func intervals(t *testing.T, ctx context.Context, f fixture) []record.Interval {
	t.Helper()
	var all []record.Interval
	for _, r := range []string{east, west} {
		ivs, err := f.stores[r].Intervals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ivs...)
	}
	return all
}

func TestOverlaps(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(1000, 0).Add(time.Duration(s) * time.Second) }
	ivs := []record.Interval{
		{Holder: east, Epoch: 1, Start: at(0), Until: at(5)},
		{Holder: east, Epoch: 1, Start: at(4), Until: at(9)},
		{Holder: west, Epoch: 2, Start: at(10), Until: at(12)},
	}
	if o := record.Overlaps(ivs); len(o) != 0 {
		t.Fatalf("disjoint holders reported overlapping: %+v", o)
	}
	ivs = append(ivs, record.Interval{Holder: east, Epoch: 1, Start: at(11), Until: at(13)})
	if o := record.Overlaps(ivs); len(o) != 1 {
		t.Fatalf("overlaps %+v; want the one between epoch 1 and epoch 2", o)
	}
	// One region at two epochs at once writes to one table: no overlap.
	same := []record.Interval{{Holder: west, Epoch: 2, Start: at(0), Until: at(5)}, {Holder: west, Epoch: 4, Start: at(4), Until: at(6)}}
	if o := record.Overlaps(same); len(o) != 0 {
		t.Fatalf("one holder's epochs reported overlapping: %+v", o)
	}
}

// waitFor polls cond (a condition on the records, not a duration) until it
// holds or the test's context ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Schedule: a forced claim is waiting out the old holder's lease, and a
// second, unforced run for the same epoch comes (a re-run after Ctrl-C, a
// second operator, EventBridge retrying the function). It must not strip
// the forced claim's hold: no lease for the claimer before the old one has
// run out. (Failed at aa72caa: the second claim re-put the records unheld
// and granted, and confirmed a lease at once.)
func TestUnforcedClaimKeepsAForcedHold(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	old, err := f.quorum(nil).Renew(ctx, east)
	if err != nil {
		t.Fatal(err)
	}
	forced := make(chan error, 1)
	go func() {
		_, err := f.quorum(nil).Claim(ctx, west, 2, control.ClaimOptions{Force: true})
		forced <- err
	}()
	waitFor(t, ctx, "the forced claim to land", func() bool {
		v, err := f.quorum(nil).Read(ctx, time.Second)
		return err == nil && v.Active.Region == west && v.Active.Epoch == 2 && v.Active.Hold != ""
	})
	second, err := f.quorum(nil).Claim(ctx, west, 2, control.ClaimOptions{})
	if err == nil && !second.Lease.Until.Add(-cfg.Term).After(old.Lease.Until) {
		t.Fatalf("the unforced claim got a lease from %s, while the old holder's ran until %s",
			second.Lease.Until.Add(-cfg.Term).Format(time.RFC3339Nano), old.Lease.Until.Format(time.RFC3339Nano))
	}
	if err := <-forced; err != nil {
		t.Fatalf("the forced claim: %v", err)
	}
	if err := writable(t, ctx, f.stores[west], time.Now()); err != nil {
		t.Fatalf("after the wait the new holder may write: %v", err)
	}
	if o := record.Overlaps(intervals(t, ctx, f)); len(o) > 0 {
		t.Fatalf("lease intervals overlap: %+v", o)
	}
}

// Schedule: a forced claim is interrupted during its wait (Ctrl-C, the
// function's timeout). Whoever resumes it — here an unforced claim at the
// same epoch, from a process without the first one's monotonic clock —
// keeps the wait: the hold's end is on the records.
func TestForcedHoldSurvivesAResume(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	old, err := f.quorum(nil).Renew(ctx, east)
	if err != nil {
		t.Fatal(err)
	}
	cctx, interrupt := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := f.quorum(nil).Claim(cctx, west, 2, control.ClaimOptions{Force: true})
		done <- err
	}()
	var held record.Active
	waitFor(t, ctx, "the forced claim to land", func() bool {
		v, err := f.quorum(nil).Read(ctx, time.Second)
		held = v.Active
		return err == nil && v.Active.Region == west && v.Active.Hold != ""
	})
	interrupt()
	if err := <-done; err == nil {
		t.Fatal("the interrupted claim reported success")
	}
	if held.Kind() != record.HoldForced || held.HoldUntil.Before(old.Lease.Until.Add(cfg.Epsilon+cfg.Delta)) {
		t.Fatalf("the forced hold %+v does not keep the old lease's end (%s) + ε + δ", held, old.Lease.Until.Format(time.RFC3339Nano))
	}
	res, err := f.quorum(nil).Claim(ctx, west, 2, control.ClaimOptions{})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if start := res.Lease.Until.Add(-cfg.Term); start.Before(held.HoldUntil.Add(cfg.Epsilon)) {
		t.Fatalf("the resumed claim's lease starts %s, before the hold's end %s + ε", start.Format(time.RFC3339Nano), held.HoldUntil.Format(time.RFC3339Nano))
	}
}

// Schedule: a claim lands on one record and is refused by the others (the
// holder still renews there); later the witness goes down. The holder's
// renewals must have repaired the stray record, or with the witness gone no
// region could write. (Failed at aa72caa: the stray record refused every
// grant until the end of time.)
func TestRenewalRepairsAPartialClaim(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	r1, err := f.quorum(nil).Renew(ctx, east)
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.stores[east].Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// West claims with a clock past east's grant while it cannot reach
	// east's record or the witness: only its own record takes epoch 2.
	for _, r := range []string{east, witness} {
		if err := f.l.Cut(r, region.DynamoDB); err != nil {
			t.Fatal(err)
		}
	}
	late := func() time.Time { return r1.Lease.Until.Add(cfg.Epsilon + time.Millisecond) }
	if _, err := f.quorum(late).Claim(ctx, west, 2, control.ClaimOptions{}); err == nil {
		t.Fatal("a claim on one record of three won")
	}
	for _, r := range []string{east, witness} {
		f.l.Restore(r)
	}
	if a, err := f.stores[west].Active(ctx); err != nil || a.Epoch != 2 || a.Region != west {
		t.Fatalf("this test needs west's record at epoch 2 for west: %+v, %v", a, err)
	}
	res, err := f.quorum(nil).Renew(ctx, east)
	if err != nil {
		t.Fatalf("east still holds a majority: %v", err)
	}
	if !slices.Contains(res.Repaired, west) {
		t.Fatalf("the renewal repaired %v, want west's stray record", res.Repaired)
	}
	// The repair took east to a higher epoch without starting a tenure: a
	// later failback's drain must still prove east's writes from its first
	// epoch on (with a new Since it skipped them).
	if a, err := f.stores[east].Active(ctx); err != nil || a.Epoch <= 2 || !a.TenureStart().Equal(first.TenureStart().Truncate(time.Millisecond)) {
		t.Fatalf("after the repair east's record is %+v (%v): want a higher epoch with the tenure start %s", a, err, first.TenureStart())
	}
	if err := f.l.Cut(witness, region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	defer f.l.Restore(witness)
	if _, err := f.quorum(nil).Renew(ctx, east); err != nil {
		t.Fatalf("with the witness down, east and west's records must keep east's lease: %v", err)
	}
	if err := writable(t, ctx, f.stores[east], time.Now()); err != nil {
		t.Fatalf("east may not write: %v", err)
	}
}

// Schedule: a failback's release reaches two records and misses the
// witness; later the DR region goes down. The new holder's renewals must
// have lifted the witness's hold. (Failed at aa72caa: the held witness
// refused every grant, so the DR outage stopped all writes.)
func TestRenewalLiftsAMissedRelease(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	if _, err := f.quorum(nil).Renew(ctx, east); err != nil {
		t.Fatal(err)
	}
	if _, err := f.quorum(nil).Claim(ctx, west, 2, control.ClaimOptions{Handover: true, From: east, FromEpoch: 1, Hold: "draining"}); err != nil {
		t.Fatal(err)
	}
	if err := f.l.Cut(witness, region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	if _, err := f.quorum(nil).Release(ctx, west, 2); err != nil {
		t.Fatalf("release on two records: %v", err)
	}
	f.l.Restore(witness)
	if a, err := f.stores[witness].Active(ctx); err != nil || a.Hold == "" {
		t.Fatalf("this test needs the witness still held: %+v, %v", a, err)
	}
	res, err := f.quorum(nil).Renew(ctx, west)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Repaired, witness) {
		t.Fatalf("the renewal repaired %v, want the witness", res.Repaired)
	}
	if err := f.l.Cut(east, region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	defer f.l.Restore(east)
	if _, err := f.quorum(nil).Renew(ctx, west); err != nil {
		t.Fatalf("with east down, west's and the witness's records must keep west's lease: %v", err)
	}
}

// The view reports the hold the same way whatever order the records are
// read in: the holder's own record's. (At aa72caa it took the hold of
// whichever agreeing record came last out of a map.)
func TestViewReadsTheHoldDeterministically(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	if _, err := f.quorum(nil).Renew(ctx, east); err != nil {
		t.Fatal(err)
	}
	if _, err := f.quorum(nil).Claim(ctx, west, 2, control.ClaimOptions{Handover: true, From: east, FromEpoch: 1, Hold: "draining"}); err != nil {
		t.Fatal(err)
	}
	// West's own record released, the others still held.
	for _, r := range []string{east, witness} {
		if err := f.l.Cut(r, region.DynamoDB); err != nil {
			t.Fatal(err)
		}
	}
	q := &control.Quorum{Stores: []*control.Store{f.stores[west]}, Lease: cfg}
	if _, err := q.Release(ctx, west, 2); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{east, witness} {
		f.l.Restore(r)
	}
	for i := range 20 {
		v, err := f.quorum(nil).Read(ctx, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if v.Active.Region != west || v.Active.Hold != "" {
			t.Fatalf("read %d: %+v; want west, unheld, as its own record says", i, v.Active)
		}
	}
}

// Schedule: a claim from a machine whose clock runs ahead (an operator's
// laptop) while the holder's lease still runs. Its cut-off for "the grant
// ran out" must not come from that clock alone: with the clock measured,
// the claim is refused until the grant has run out in true time; with it
// unmeasurable, the claim is refused outright. (Failed at aa72caa: a clock
// ahead by more than the lease's remainder won the records at once.)
func TestClaimTrustsAMeasuredClockOnly(t *testing.T) {
	f, ctx := newFixture(t), labtest.Context(t)
	r1, err := f.quorum(nil).Renew(ctx, east)
	if err != nil {
		t.Fatal(err)
	}
	// West's clock reads just past east's grant + ε; true time is inside it.
	ahead := time.Until(r1.Lease.Until.Add(cfg.Epsilon + 10*time.Millisecond))
	skewed := func() time.Time { return time.Now().Add(ahead) }
	q := f.quorum(skewed)
	// The bound check refuses a clock off by more than a term; this one
	// is off by nearly the holder's whole term, so the claimer's is longer.
	q.Lease.Term = 2 * cfg.Term
	q.ClockBound = func(context.Context) (time.Duration, error) { return ahead + 5*time.Millisecond, nil }
	if res, err := q.Claim(ctx, west, 2, control.ClaimOptions{}); !errors.Is(err, control.ErrConflict) || len(res.Won) != 0 {
		t.Fatalf("a claim from a clock measured %s ahead: won %v, err %v; want refused while east's grant runs", ahead, res.Won, err)
	}
	q.ClockBound = func(context.Context) (time.Duration, error) { return 0, errors.New("time server: no answer") }
	if _, err := q.Claim(ctx, west, 2, control.ClaimOptions{}); !errors.Is(err, control.ErrClock) {
		t.Fatalf("a claim from an unmeasured clock: %v, want ErrClock", err)
	}
	q.ClockBound = func(context.Context) (time.Duration, error) { return 2*q.Lease.Term + time.Millisecond, nil }
	if _, err := q.Claim(ctx, west, 2, control.ClaimOptions{}); !errors.Is(err, control.ErrClock) || !strings.Contains(err.Error(), "time sync") {
		t.Fatalf("a claim from a clock off by more than a term: %v, want ErrClock naming the fix", err)
	}
	if err := writable(t, ctx, f.stores[east], time.Now()); err != nil {
		t.Fatalf("east's lease must be untouched: %v", err)
	}
	v, err := f.quorum(nil).Read(ctx, time.Second)
	if err != nil || v.Active.Region != east || v.HighestEpoch() != 1 {
		t.Fatalf("view %+v (highest %d), %v; want east at epoch 1 everywhere", v.Active, v.HighestEpoch(), err)
	}
}
