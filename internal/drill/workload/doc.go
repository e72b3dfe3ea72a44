// Package workload is the drill's client side: a workload that writes
// orders through the routed entry point (or one region's own) — or a
// protected application's items to its table, through the guard package or
// not (App) — at a set rate and logs every write with its answer, and the
// look-ups that check what a region's table and bucket hold of them.
//
// It must not inject faults or judge a drill: package drill does.
package workload
