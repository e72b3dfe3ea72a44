// Package objects is the lab's stand-in for S3 cross-region replication. It copies
// every new object version (and delete marker) of the primary's data and
// backup buckets — and of the users' buckets `pilotlight protect` adopted
// (AddBucket) — to the DR region's, and — once failback replication is on —
// the DR region's new versions back, like a reverse replication rule plus
// S3 Batch Replication for what was written in the meantime.
//
// It works from each region's change feed (front.ChangeFront, between the fault
// proxy and versitygw, notes every version a write creates), as S3
// replication works from its own change log; it lists a bucket's versions
// only once per direction after it starts, to catch up on what was written
// while it was not running. A pass costs what was written since the last
// one, not what the bucket holds.
//
// Position: per direction and bucket, the source version IDs already copied,
// and the destination version IDs the replicator created (replicas are never
// replicated again): a snapshot, and a log of the copies since, appended
// after every pass and folded into the snapshot when the replicator starts.
// A copy made just before a crash and not yet logged is found by the
// catch-up listing; before copying a listed version the replicator checks
// whether the destination already holds it, so a restart neither repeats
// nor skips one.
//
// It must not start servers or fronts, nor know the lab's faults: it is
// given its regions' clients and change fronts, and a way to ask whether a
// region is cut off (Config).
package objects
