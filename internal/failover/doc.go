// Package failover owns the failover controller: the phase machine
// detected → decided → fenced → promoted → verified → active, every phase
// journaled with its time in the target region's control table; the epoch
// claimed by compare-and-set, so two controllers can never both promote;
// fencing of the old region, best effort with a deadline and retried until it
// lands; and planned failover (used for failback), which stops writes at the
// source and waits for replication to drain before switching, so no
// acknowledged write is lost.
//
// It never fails back on its own. It does not probe or route: it takes the
// DR region's own probe, the routing layer's view, verification and
// notification as small interfaces, so the same code runs in the Lambda
// function, the CLI and the tests.
package failover
