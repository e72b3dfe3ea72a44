// Package control owns the control records that decide which region may
// write, and the failover journal. It does not decide to fail over (the
// failover controller does), and it never replicates: each record lives in
// one region's control table.
//
// # Records
//
// Three control tables, one per region: the two application regions and a
// witness region that holds nothing else. Each holds one active record
//
//	{active_region (the holder), epoch, since, granted_until, tenure?, hold?, from_since?}
//
// and each application region also holds its lease item {epoch,
// lease_until}, written only by that region's holder, and the journal
// (run#<epoch> phase rows, write-once; confirmed lease intervals).
//
// # The protocol (what Quorum implements)
//
// Renewal. The holder h at epoch e takes t0 from its clock, then updates
// the three records in parallel with the condition
// `epoch = e AND active_region = h AND no hold AND granted_until ≤ t0 +
// term` (a grant never shortens: one that lands late must not undo a later
// renewal's), setting granted_until = t0 + term; each call is capped at
// term/4. As soon as two records granted — not waiting for a dead third —
// it writes lease_until = t0 + term to its own lease item (condition:
// lease_until never decreases). It renews every term/4, counted from the
// start of the previous renewal.
//
// Write path. A region acknowledges a write only after reading its own
// record and lease item (one strongly consistent transactional read; nothing
// in another region) and finding: it is the holder, the lease is at the
// record's epoch, no hold, and now + δ + ε < lease_until. The write itself
// keeps a condition check on the record's epoch in its transaction, and is
// given δ to finish (SDK retries included) or it fails.
//
// Claim. A claimer c for epoch e′ updates each record with the condition
// `epoch < e′ AND (active_region = c OR granted_until < now − ε)` and wins
// with two records. A partial claim is not rolled back: a retry uses a
// higher epoch, and the holder's renewal repairs the stray record (rule 3). The active region is the holder of the highest epoch present
// on two records (View). A forced claim drops the granted_until test and then
// waits term + ε + δ on a monotonic clock — counted from when its writes had
// landed, since the old holder may renew until then — before the new
// holder's first lease, so whatever the old holder was granted has run out. A handover (planned
// failover) is a claim by the current holder on the new holder's behalf: its
// condition is `epoch = e AND active_region = old`, it must land on the old
// holder's own record (whose epoch check then stops its writes at once), and
// it sets a hold until replication has drained; Release lifts the hold. The
// old holder's journaled lease ends when the handover lands on its record
// (its writes' epoch check fails from then on), not at its lease_until.
//
// # Rules that make one missed step harmless
//
// The protocol is judged by schedules, not only by faults: a second run
// during a first, a crash after any step, one record that missed one step.
// Each rule below is an invariant, with the test that breaks it if it goes.
//
//  1. A claim never turns a held record into an unheld one. A claim that
//     finds its epoch already won for its claimer (a resumed run) takes the
//     record as it stands; an unheld one has its grant extended, never
//     replaced (TestUnforcedClaimKeepsAForcedHold).
//  2. A forced claim's state is on the records: hold kind "forced" and
//     HoldUntil = t0 + term/2 (its writes' deadline) + term + ε + δ by the
//     claimer's clock. Whoever resumes the epoch — an unforced re-run, the
//     tick — waits until HoldUntil + ε by its own clock before releasing
//     (TestForcedHoldSurvivesAResume, failover's
//     TestTickResumesAnInterruptedForcedFailover).
//  3. Anti-entropy: each successful renewal brings every other reachable
//     record to the quorum's (epoch, holder, no hold) — it releases a
//     record the release missed, raises one a claim or fence missed, and
//     takes back one a partial claim moved, by a claim at a higher epoch
//     over that record exactly as read (Quorum.repair says why that is
//     safe). One missed step is then never the seed of a later outage
//     (TestRenewalRepairsAPartialClaim, TestRenewalLiftsAMissedRelease).
//  4. View is deterministic: the holder of the highest epoch on a majority,
//     with the hold and grant of the holder's own record when it agrees
//     (TestViewReadsTheHoldDeterministically).
//  5. A held epoch is finished the way it began: a handover is resumed
//     (drained, released) by the failover controller's tick once it is a
//     term old, and rolled back only when it cannot be resumed; a forced
//     hold is resumed, never rolled back onto the side it fenced
//     (internal/failover's Tick).
//  6. A claim trusts only a clock within ε. Lambda hosts are (the Amazon
//     Time Sync Service); any other caller — the CLI on an operator's
//     machine — sets Quorum.ClockBound, measured against the deployment's
//     time server: the cut-off moves earlier and a forced hold's end later
//     by the bound, and an unmeasurable clock, or one off by more than a
//     term, refuses to claim (TestClaimTrustsAMeasuredClockOnly). A
//     handover measures its clock too: its Since starts the new holder's
//     tenure, which a later failback's drain proves from.
//  7. A tenure is never restarted by bookkeeping: the records keep when the
//     holder's continuous tenure began (TenureStart: Tenure, else Since).
//     A repair raises a record with the holder's own Since and tenure, and
//     takes back a stray one at a higher epoch with the tenure kept; a
//     rolled-back handover gives the source its writes back at a new epoch
//     with its tenure kept; a handover's held records keep the source's
//     tenure start (FromSince) for a resumed drain. So a failback's drain,
//     which proves the source's writes from its tenure start (less a term
//     and ε), never skips one (TestRenewalRepairsAPartialClaim, failover's
//     TestRollbackKeepsTheSourcesTenure, TestTickResumesAnInterruptedFailback).
//
// # Why it holds (no two regions acknowledge writes at once)
//
// Any two sets of two records out of three share one. The old holder's last
// lease_until was granted by two records, so a claim that won two records
// passed granted_until < now − ε on at least one record carrying that grant:
// the claimer's clock was past the old lease's end by ε, so (clocks differing
// by at most ε) the old holder's clock was past it too, and the old holder
// stopped checking leases as valid δ + ε before that end — every write it
// acknowledged was applied (within δ of its check) before the claim. A
// returning old holder cannot renew: two records are at a higher epoch.
//
// Assumptions, stated: clocks differ by at most ε (LeaseConfig.Epsilon; 500 ms
// on AWS, where Lambda hosts keep time with the Amazon Time Sync Service); a
// write is applied within δ of its lease check or never; term + ε + δ fits
// inside the detection window, so leases cost RTO nothing.
//
// What it costs: with the DR region and the witness down together the
// primary cannot renew and stops writing; with the primary and the witness
// down together no claim can win two records, so failover needs an operator
// (`failover --without-witness --yes`, best effort). With no witness (two-
// region mode) one record is a majority of one's own: split-brain protection
// is then best effort (the epoch condition and the fence only).
package control
