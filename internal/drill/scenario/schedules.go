package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/clock"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/workload"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/failover/arrival"
)

// The schedule scenarios (lab only): not a fault of a region but an order of
// events the lease protocol must survive — a second run during a first, a
// run interrupted after any step, one record that missed one step. Each is
// the drill form of a regression test in internal/control or
// internal/failover.
const (
	// ForcedThenUnforced: during a partition an operator forces a failover
	// and, while it waits out the old lease, a second, unforced run for the
	// same target comes: the new region starts only after the old one
	// stopped acknowledging.
	ForcedThenUnforced report.Scenario = "forced-then-unforced"
	// ForcedInterrupted: the forced failover is interrupted during its wait;
	// the failover controller's tick resumes it, never rolling it back onto
	// the region it was forced away from.
	ForcedInterrupted report.Scenario = "forced-interrupted"
	// FailbackInterrupted: the failback is interrupted after its handover;
	// the tick resumes it within a lease term and a tick, and releases
	// the primary after its drain.
	FailbackInterrupted report.Scenario = "failback-interrupted"
	// PartialClaimThenWitnessOutage: a claim lands on the DR region's record
	// only, then the witness goes down: the primary's renewals repaired the
	// stray record, so it keeps writing.
	PartialClaimThenWitnessOutage report.Scenario = "partial-claim-then-witness-outage"
	// FailbackMissedWitnessThenDROutage: the failback's handover and release
	// miss the witness, then the DR region goes down: the primary's renewals
	// brought the witness up to date, so it keeps writing.
	FailbackMissedWitnessThenDROutage report.Scenario = "failback-missed-witness-then-dr-outage"
	// LateHealthCheck drops one in three of the primary's scheduled
	// health-check runs (EventBridge delivering late, or not at all): each
	// run renews across the next, so no write is refused and no failover
	// happens.
	LateHealthCheck report.Scenario = "late-health-check"
)

// forcedDuringPartition partitions the two regions and forces a failover to
// the DR region; during runs while the forced run is under way, with a
// context that interrupt cancels. It returns the forced run's outcome.
func (d scene) forcedDuringPartition(ctx context.Context, during func(ctx context.Context, interrupt func()) error) (failover.Result, time.Time, error) {
	f, err := d.faults()
	if err != nil {
		return failover.Result{}, time.Time{}, err
	}
	d.StartWorkload()
	if err := clock.Sleep(ctx, d.Options.Steady); err != nil {
		return failover.Result{}, time.Time{}, err
	}
	d.Say("FAULT: %s and %s cannot reach each other; an operator forces a failover", d.Primary, d.DR)
	if err := f.CutLink(ctx, d.Primary, d.DR); err != nil {
		return failover.Result{}, time.Time{}, err
	}
	forcedAt := time.Now()
	rctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	type outcome struct {
		res failover.Result
		err error
	}
	ran := make(chan outcome, 1)
	go func() {
		res, err := d.Controller.Run(rctx, failover.Request{From: d.Primary, To: d.DR, Operator: true, Force: true, Reason: "drill: forced failover"})
		ran <- outcome{res, err}
	}()
	if err := d.Poll(ctx, "the forced claim held on the records", func() (bool, error) {
		v, err := d.Controller.View(ctx, d.Primary, d.DR)
		return err == nil && v.Active.Region == d.DR && v.Active.Kind() == record.HoldForced, nil
	}); err != nil {
		return failover.Result{}, forcedAt, err
	}
	derr := during(ctx, interrupt)
	o := <-ran
	if derr != nil {
		return o.res, forcedAt, derr
	}
	return o.res, forcedAt, o.err
}

// handedOver checks the forced failover's promise from the data: the old
// primary's last acknowledged write came before the new one's first.
func (d scene) handedOver(ctx context.Context, since time.Time) (time.Duration, error) {
	var first workload.Write
	if err := d.Poll(ctx, "first write acknowledged by "+d.DR, func() (bool, error) {
		w, ok := workload.FirstAck(d.Workload.Writes(), d.DR, since)
		first = w
		return ok, nil
	}); err != nil {
		return 0, err
	}
	var last workload.Write
	for _, w := range d.Workload.Writes() {
		if w.Acked() && w.Region == d.Primary && w.CreatedAt.After(last.CreatedAt) {
			last = w
		}
	}
	if !last.CreatedAt.Before(first.CreatedAt) {
		return 0, fmt.Errorf("the old primary acknowledged at %s, after the new one's first write at %s", last.CreatedAt.Format(time.RFC3339Nano), first.CreatedAt.Format(time.RFC3339Nano))
	}
	return first.CreatedAt.Sub(last.CreatedAt), nil
}

// healAndFailBack ends a partition scenario: the link back, a failback.
func (d scene) healAndFailBack(ctx context.Context) error {
	if err := d.Target.Heal(ctx, ""); err != nil {
		return err
	}
	d.Say("HEAL: the link is back; failing back")
	if _, err := d.Failback(ctx, "after the partition"); err != nil {
		return fmt.Errorf("Failback: %w", err)
	}
	return nil
}

func (d scene) forcedThenUnforced(ctx context.Context) error {
	defer d.StopWorkload()
	var second failover.Result
	res, forcedAt, err := d.forcedDuringPartition(ctx, func(ctx context.Context, _ func()) error {
		d.Say("a second, unforced run for %s comes during the forced wait", d.DR)
		var err error
		second, err = d.Controller.Run(ctx, failover.Request{From: d.Primary, To: d.DR, Operator: true, Reason: "drill: a second operator"})
		return err
	})
	if err != nil {
		return fmt.Errorf("forced failover: %w", err)
	}
	gap, err := d.handedOver(ctx, forcedAt)
	if err != nil {
		return err
	}
	d.Report.Observed = fmt.Sprintf("forced to epoch %d, the second run ended %s at epoch %d; %s's last write %.2fs before %s's first", res.Epoch, second.Outcome, second.Epoch, d.Primary, gap.Seconds(), d.DR)
	d.Say("%s", d.Report.Observed)
	if second.Epoch != res.Epoch {
		return fmt.Errorf("the second run ended at epoch %d, the forced one at %d: the runs did not converge", second.Epoch, res.Epoch)
	}
	return d.healAndFailBack(ctx)
}

func (d scene) forcedInterrupted(ctx context.Context) error {
	defer d.StopWorkload()
	_, forcedAt, err := d.forcedDuringPartition(ctx, func(_ context.Context, interrupt func()) error {
		d.Say("the forced run is interrupted while it waits out the old lease")
		interrupt()
		return nil
	})
	if err == nil {
		return errors.New("the interrupted forced run reported success")
	}
	var resumed record.View
	if err := d.Poll(ctx, d.DR+" active and released by the tick", func() (bool, error) {
		v, err := d.Controller.View(ctx, d.Primary, d.DR)
		if err != nil {
			return false, nil
		}
		if v.Active.Region == d.Primary && v.Active.Epoch > d.EpochBase {
			return false, fmt.Errorf("the forced failover was rolled back onto %s (epoch %d)", d.Primary, v.Active.Epoch)
		}
		resumed = v
		return v.Active.Region == d.DR && v.Active.Hold == "", nil
	}); err != nil {
		return err
	}
	gap, err := d.handedOver(ctx, forcedAt)
	if err != nil {
		return err
	}
	d.Report.Observed = fmt.Sprintf("interrupted during the wait; resumed by the tick: %s active at epoch %d; %s's last write %.2fs before %s's first", d.DR, resumed.Active.Epoch, d.Primary, gap.Seconds(), d.DR)
	d.Say("%s", d.Report.Observed)
	return d.healAndFailBack(ctx)
}

func (d scene) failbackInterrupted(ctx context.Context) error {
	var handover, resumed time.Time
	var held record.Active
	err := d.Outage(ctx, drill.Hooks{Failback: func(ctx context.Context) (failover.Result, error) {
		if err := d.Target.FailbackReplication(ctx, true); err != nil {
			return failover.Result{}, err
		}
		defer d.Target.FailbackReplication(context.WithoutCancel(ctx), false)
		rctx, interrupt := context.WithCancel(ctx)
		defer interrupt()
		ran := make(chan error, 1)
		go func() {
			_, err := d.Controller.Run(rctx, failover.Request{From: d.DR, To: d.Primary, Planned: true, Reason: "drill failback, to be interrupted"})
			ran <- err
		}()
		// After the handover means after the source's own record took it:
		// that is what stops the source's writes. A majority holding it is
		// not enough — an interruption before the source's record moved
		// rolls the failback back, rightly (TestHandoverInterruptedBefore
		// TheSourceMovedIsRolledBack), and under load the source's write
		// can land last.
		if err := d.Poll(ctx, "the failback's handover", func() (bool, error) {
			v, err := d.Controller.View(ctx, d.Primary, d.DR)
			held = v.Active
			own, ok := v.Records[d.DR]
			return err == nil && v.Active.Region == d.Primary && v.Active.Kind() == record.HoldHandover &&
				ok && own.Region == d.Primary && own.Epoch == v.Active.Epoch, nil
		}); err != nil {
			return failover.Result{}, err
		}
		handover = time.Now()
		d.Say("the failback is interrupted after its handover (epoch %d held, %s's own record included)", held.Epoch, d.DR)
		interrupt()
		if err := <-ran; err == nil {
			d.Say("the failback finished before the interruption reached it")
		}
		var v record.View
		if err := d.Poll(ctx, d.Primary+" released by the tick", func() (bool, error) {
			var err error
			v, err = d.Controller.View(ctx, d.Primary, d.DR)
			if err == nil && v.Active.Region == d.DR {
				// Say why, from the rollback's journal: the reason is the
				// resumed run's, in another process.
				var why []string
				if journal, jerr := d.Store(d.DR).Run(ctx, v.Active.Epoch); jerr == nil {
					for _, e := range journal {
						if e.Detail != "" {
							why = append(why, e.Detail)
						}
					}
				}
				return false, fmt.Errorf("the interrupted failback was rolled back (%s active at epoch %d): %s", d.DR, v.Active.Epoch, strings.Join(why, "; "))
			}
			return err == nil && v.Active.Region == d.Primary && v.Active.Hold == "", nil
		}); err != nil {
			return failover.Result{}, err
		}
		resumed = time.Now()
		journal, _ := d.Store(d.Primary).Run(ctx, v.Active.Epoch)
		return failover.Result{Outcome: failover.OutcomeCompleted, From: d.DR, To: d.Primary, Epoch: v.Active.Epoch, Journal: journal}, nil
	}})
	if err != nil {
		return err
	}
	heldFor := resumed.Sub(handover)
	d.Report.Observed = fmt.Sprintf("failback interrupted after its handover at epoch %d; the tick released %s %.2fs later", held.Epoch, d.Primary, heldFor.Seconds())
	// The tick starts the resumed run within a lease term and its 10 s
	// schedule; the run then drains (the function's drain reads the
	// stream for StreamSettle) and promotes (a second, generously).
	if limit := d.Controller.LeaseConfig().Term + 10*time.Second + arrival.StreamSettle + time.Second; heldFor > limit {
		return fmt.Errorf("the interrupted failback held every write for %s, more than a lease term, the tick's schedule, the drain's settle and a second to promote (%s)", heldFor.Round(time.Millisecond), limit)
	}
	return nil
}

// repairedThenCut waits until every control record agrees with the quorum
// (the holder's renewals repaired the one that missed a step), then cuts
// region for the fault window: the primary must keep writing.
func (d scene) repairedThenCut(ctx context.Context, missed, cut string, since time.Time) error {
	var v record.View
	if err := d.Poll(ctx, missed+"'s record repaired", func() (bool, error) {
		var err error
		v, err = d.Controller.View(ctx, d.Primary, d.DR)
		if err != nil || v.Active.Region != d.Primary {
			return false, nil
		}
		r, ok := v.Records[missed]
		return ok && r.Region == v.Active.Region && r.Epoch == v.Active.Epoch && r.Hold == "", nil
	}); err != nil {
		return err
	}
	repaired := fmt.Sprintf("%s's record repaired %.2fs after it missed a step (epoch %d)", missed, time.Since(since).Seconds(), v.Active.Epoch)
	d.Say("%s", repaired)
	started := time.Time{}
	if d.Workload != nil {
		d.StopWorkload()
		d.Extra = append(d.Extra, d.Workload)
		started = d.StartedAt
	}
	d.EpochBase = v.Active.Epoch
	err := d.noNewEpoch(ctx, cut, d.minAckRatio())
	if !started.IsZero() {
		d.StartedAt = started // the report's timeline starts with the first workload
	}
	d.Report.Observed = repaired + "; " + d.Report.Observed
	return err
}

func (d scene) partialClaimThenWitnessOutage(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	if f.Witness() == "" {
		return errors.New("the lab runs without a witness (PILOTLIGHT_WITNESS_REGION=none): nothing to cut")
	}
	v, err := d.Controller.View(ctx, d.Primary, d.DR)
	if err != nil {
		return err
	}
	// What a claim refused by the primary's and the witness's records
	// leaves behind: the DR region's own record at a higher epoch, granted
	// to it, and no lease.
	now, l := time.Now().UTC(), d.Controller.LeaseConfig()
	stray := record.Active{Region: d.DR, Epoch: v.HighestEpoch() + 1, Since: now, GrantedUntil: now.Add(l.Term)}
	d.Say("FAULT: a claim for %s lands on its own record only (epoch %d) and is refused by the others", d.DR, stray.Epoch)
	if err := d.Store(d.DR).Raise(ctx, stray); err != nil {
		return fmt.Errorf("plant the partial claim: %w", err)
	}
	return d.repairedThenCut(ctx, d.DR, f.Witness(), now)
}

func (d scene) failbackMissedWitnessThenDROutage(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	w := f.Witness()
	if w == "" {
		return errors.New("the lab runs without a witness (PILOTLIGHT_WITNESS_REGION=none): nothing to cut")
	}
	var missedAt time.Time
	err = d.Outage(ctx, drill.Hooks{BeforeFailback: func(ctx context.Context) error {
		d.Say("FAULT: %s cut: the failback's handover and release miss its record", w)
		missedAt = time.Now()
		return f.CutService(ctx, w, "")
	}})
	if herr := d.Target.Heal(ctx, w); herr != nil {
		return errors.Join(err, herr)
	}
	if err != nil {
		return err
	}
	d.Say("HEAL: %s back", w)
	return d.repairedThenCut(ctx, w, d.DR, missedAt)
}

func (d scene) lateHealthCheck(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	return d.noNewEpochUnder(ctx, "one in three of "+d.Primary+"'s health-check runs dropped", d.minAckRatio(),
		func(ctx context.Context) error { return f.LateHealthChecks(ctx, d.Primary, d.faultFor()) }, nil)
}
