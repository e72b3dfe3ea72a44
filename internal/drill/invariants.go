package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/workload"
)

// invariants checks, whatever the scenario, the promises pilotlight prints:
//   - no two confirmed write leases (each holder journals its own) overlap;
//   - no split brain, counted from the data: every write the clients
//     attempted, acknowledged or not, is looked up in both regions, and one
//     committed at epoch e must have passed its lease check before any
//     higher epoch's first lease began (an unguarded write of a
//     routing-only application: its region must have held a lease as it
//     was sent — a breach printed, not a failure, as that tier promises
//     nothing more);
//   - and it counts the writes that committed although their client never
//     saw an acknowledgement (timeouts), which RPO accounting must include.
//
// In the lab one clock serves every region, so the times compare exactly;
// on AWS the comparison carries the clock bound ε.
func (d *Drill) invariants(ctx context.Context, writes []workload.Write) {
	rep := d.Report
	var ivs []record.Interval
	for _, r := range []string{d.Primary, d.DR} {
		got, err := d.Store(r).Intervals(ctx)
		if err != nil {
			d.Fail("read lease intervals: " + err.Error())
			return
		}
		for _, iv := range got {
			if iv.Until.After(rep.Started.Add(-time.Minute)) {
				ivs = append(ivs, iv)
			}
		}
	}
	overlaps := record.Overlaps(ivs)
	rep.LeaseOverlaps = len(overlaps)
	if len(overlaps) > 0 {
		o := overlaps[0]
		d.Fail(fmt.Sprintf("%d pairs of write leases overlap, e.g. %s@%d [%s, %s] and %s@%d [%s, %s]", len(overlaps),
			o[0].Holder, o[0].Epoch, o[0].Start.Format(time.RFC3339Nano), o[0].Until.Format(time.RFC3339Nano),
			o[1].Holder, o[1].Epoch, o[1].Start.Format(time.RFC3339Nano), o[1].Until.Format(time.RFC3339Nano)))
	}
	firstLease := map[int64]time.Time{}
	for _, iv := range ivs {
		if t, ok := firstLease[iv.Epoch]; !ok || iv.Start.Before(t) {
			firstLease[iv.Epoch] = iv.Start
		}
	}
	all := make([]string, 0, len(writes))
	acked := map[string]bool{}
	for _, w := range writes {
		all = append(all, w.ID)
		if w.Acked() {
			acked[w.ID] = true
		}
	}
	found := map[string]workload.Order{}
	for _, r := range []string{d.Primary, d.DR} {
		got, err := d.subject.lookup(ctx, r, all)
		if err != nil {
			d.Fail("look up attempted writes: " + err.Error())
			return
		}
		for id, o := range got {
			found[id] = o
		}
	}
	rep.SplitBrain, rep.SplitBrainSamples, rep.UnackedCommits = 0, nil, 0
	for id, o := range found {
		if !acked[id] {
			rep.UnackedCommits++
		}
		if o.Epoch == 0 {
			// An unguarded write (routing only): split brain when its
			// region held no lease as it was sent.
			if !held(ivs, o.Region, o.CreatedAt) {
				rep.SplitBrain++
				if len(rep.SplitBrainSamples) < 5 {
					rep.SplitBrainSamples = append(rep.SplitBrainSamples, fmt.Sprintf("%s (%s, unguarded, at %s: no lease of %s then)", id, o.Region, o.CreatedAt.Format(time.RFC3339Nano), o.Region))
				}
			}
			continue
		}
		for e, start := range firstLease {
			if e > o.Epoch && !o.CreatedAt.Before(start) {
				rep.SplitBrain++
				if len(rep.SplitBrainSamples) < 5 {
					rep.SplitBrainSamples = append(rep.SplitBrainSamples, fmt.Sprintf("%s (%s@%d at %s; epoch %d leased from %s)", id, o.Region, o.Epoch, o.CreatedAt.Format(time.RFC3339Nano), e, start.Format(time.RFC3339Nano)))
				}
				break
			}
		}
	}
	if rep.SplitBrain > 0 {
		d.Breach(fmt.Sprintf("%d split-brain commits: %v", rep.SplitBrain, rep.SplitBrainSamples))
	}
	// A commit its client did not see acknowledged is one of the writes
	// not acknowledged: more means the look-up does not match the log, and
	// the split-brain count above is not to be trusted either.
	if unacked := len(all) - len(acked); rep.UnackedCommits > unacked {
		d.Fail(fmt.Sprintf("%d commits counted as unacknowledged of %d unacknowledged writes: the data look-up does not match the workload's log", rep.UnackedCommits, unacked))
	}
}

// held reports whether a confirmed lease of region covered t.
func held(ivs []record.Interval, region string, t time.Time) bool {
	for _, iv := range ivs {
		if iv.Holder == region && !t.Before(iv.Start) && !t.After(iv.Until) {
			return true
		}
	}
	return false
}
