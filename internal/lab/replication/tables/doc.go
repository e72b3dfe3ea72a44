// Package tables is the lab's stand-in for DynamoDB global tables. Each region's
// stream is read continuously; a change written by a user (a "local write")
// gets a version — the time of the write in unix milliseconds, as the
// region's write-time front saw DynamoDB answer it (later than the region's
// own previous write of the key), and the region's name — and is applied to
// the peer no sooner than its lag. The version is the time of the write, not
// of the reading: however late a stream record is read, the later write
// wins, as in global tables.
// Applied items carry their version in region.AttrRepVersion, so a reader can
// tell the replicator's own writes from users' writes and never sends them
// back (no ping-pong). Conflicts resolve last-writer-wins on the version,
// ties broken by region name, identically on both sides.
//
// Deletes replicate in two steps, as in the first global tables: mark the
// item (region.AttrRepDeleting plus the version), then delete it on the
// condition that the mark is still there; the REMOVE record then carries the
// mark and is recognised as the replicator's.
//
// Position: for each direction, the sequence number of the last record that
// has been applied (or skipped) per shard is saved after every batch, with the
// recent versions per key. A restarted replicator reads on from there, so it
// neither loses nor repeats a change; re-applying the same version is
// idempotent anyway.
//
// It must not start servers or fronts, nor know the lab's faults: it is
// given its regions' clients, their write-time fronts' times and a way to
// ask whether a region is cut off (Config).
package tables
