// Package record owns the plain data of pilotlight's control plane: a
// region's control record (Active) and its hold, the lease item, and the
// failover journal's phases and entries. Package control reads and writes
// them in the control tables; readers of a run (the drill's report, the
// dashboard) take them from here and link no AWS SDK.
package record

import "time"

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
