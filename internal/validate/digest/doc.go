// Package digest owns the canonical form of a DynamoDB item and the
// digests built from it: an encoding that is the same for equal items
// whatever the order of their attributes, sets or number spellings
// (replication bookkeeping left out), the item and key hashes, the
// order-free digest of a bucket of items (Sum), and a table's digests
// split into buckets (Digests). The validator compares regions with them,
// a backup proves its snapshot and its restore with them, and a failback's
// drain compares a stream image with the target's item through them.
package digest
