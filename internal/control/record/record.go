// Package record owns the plain data of pilotlight's control plane: a
// region's control record (Active) and its hold, the lease item, the
// failover journal's phases and entries, what the three records say
// together (View), and the journaled lease intervals with the check that
// no two holders' overlap. Package control reads and writes them in the
// control tables; readers of a run (the drill's report, the dashboard)
// take them from here and link no AWS SDK.
package record

import (
	"sort"
	"time"
)

// Active is one control record: which region holds the write lease, at
// which epoch, since when, and until when this record grants it. Epochs only
// grow. One record lives in each of the three control tables (own region,
// peer, witness); the region that holds the highest epoch on two of them is
// the active region (see View).
type Active struct {
	Region string    `json:"active_region"` // the holder
	Epoch  int64     `json:"epoch"`
	Since  time.Time `json:"since"`
	// GrantedUntil is the end of the grant this record gives its holder;
	// zero when it grants nothing (a fence, or a record from before leases).
	GrantedUntil time.Time `json:"granted_until,omitzero"`
	// Hold, when set, stops renewals at this epoch: a planned handover
	// holds the new holder back until replication has drained; a forced
	// claim holds it until the old holder's lease has surely run out.
	Hold string `json:"hold,omitempty"`
	// HoldKind says which (HoldHandover or HoldForced; "" on records
	// written before kinds were kept, read as a handover): a run that
	// resumes a held epoch finishes it the way it began.
	HoldKind HoldKind `json:"hold_kind,omitempty"`
	// HoldUntil, for a forced hold, is when the claimer's wait ends by its
	// clock: a resumer waits until then plus ε by its own.
	HoldUntil time.Time `json:"hold_until,omitzero"`
	// FromSince, for a handover hold, is when the source's tenure began
	// (the Since of the epoch it handed over): the drain proves every write
	// the source acknowledged from then on, and a resumed drain — which has
	// no memory of the source's record — reads it here. Zero: unknown (a
	// record from before it was kept); the drain then proves the whole
	// stream.
	FromSince time.Time `json:"from_since,omitzero"`
	// Tenure, when set, is when its holder's continuous tenure began,
	// before this epoch: a rolled-back handover gives the source its writes
	// back at a new epoch, and the writes it acknowledged at the epoch
	// before are still its own to prove at the next failback. Zero: the
	// tenure began at Since (TenureStart).
	Tenure time.Time `json:"tenure,omitzero"`
}

// TenureStart is when the holder's continuous tenure began: Tenure, or
// Since.
func (a Active) TenureStart() time.Time {
	if !a.Tenure.IsZero() {
		return a.Tenure
	}
	return a.Since
}

// HoldKind is why a record is held.
type HoldKind string

const (
	// HoldHandover: a planned failover stopped writes at its source and
	// waits for replication to drain before Release.
	HoldHandover HoldKind = "handover"
	// HoldForced: a forced claim waits out whatever lease the old holder
	// may still have before Release.
	HoldForced HoldKind = "forced"
)

// Kind is the record's hold kind ("" when not held; a hold of unknown kind
// is a handover, the only kind older records had).
func (a Active) Kind() HoldKind {
	switch {
	case a.Hold == "":
		return ""
	case a.HoldKind == "":
		return HoldHandover
	}
	return a.HoldKind
}

// Phase is a step of a failover run, journaled in order.
type Phase string

const (
	// Detected: a failure was reported (alarm or operator) and a run began.
	Detected Phase = "detected"
	// Decided: the guards passed (DR healthy, dwell time, a second vantage
	// point agrees) and the epoch was claimed.
	Decided Phase = "decided"
	// Fenced: the old active region was told to stop writing (or the attempt
	// timed out and is retried until it lands).
	Fenced Phase = "fenced"
	// Promoted: the new region's active record names it at the new epoch.
	Promoted Phase = "promoted"
	// Verified: the new region accepts writes.
	Verified Phase = "verified"
	// Completed: the run is over; the new region is active.
	Completed Phase = "completed"
)

// Phases in order.
var Phases = []Phase{Detected, Decided, Fenced, Promoted, Verified, Completed}

// Index is a phase's position in Phases, or -1.
func (p Phase) Index() int {
	for i, q := range Phases {
		if q == p {
			return i
		}
	}
	return -1
}

// Entry is one journal row.
type Entry struct {
	Epoch  int64     `json:"epoch"`
	Phase  Phase     `json:"phase"`
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Detail string    `json:"detail,omitempty"`
}

// Lease is a region's lease item: its holder may acknowledge writes at Epoch
// while now + δ + ε < Until.
type Lease struct {
	Epoch int64     `json:"epoch"`
	Until time.Time `json:"lease_until"`
}

// View is what the three records say together.
type View struct {
	// Active is the holder of the highest epoch present on a majority of
	// records (zero Region when no epoch is: no region is active).
	Active  Active
	Records map[string]Active // per region; missing when unreadable
	Errors  map[string]error
}

// Agreed picks, among the records at a's (holder, epoch), the one whose
// hold and grant the view reports, the same whichever order the records
// were read in: the holder's own record when it agrees (its write path
// reads that one), else a held one (a hold not yet lifted everywhere
// still stops renewals there), else the latest grant.
func (v View) Agreed(a Active) Active {
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

// Interval is one confirmed lease interval, journaled by its holder.
type Interval struct {
	Holder string    `json:"holder"`
	Epoch  int64     `json:"epoch"`
	Start  time.Time `json:"start"`
	Until  time.Time `json:"until"`
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
