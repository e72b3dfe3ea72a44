// Package validate owns the cross-region comparison: the canonical encoding
// of DynamoDB items (so that equal data written differently hashes the
// same), order-independent per-bucket digests, parallel segmented scans of
// the protected table in both regions, the item-level diff of the buckets
// whose digests differ, the settle window that keeps in-flight replication
// from being called divergence, and the comparison of the object buckets.
//
// The same digests back the backup package's snapshot manifests, so that a
// restored table can be checked against the snapshot it came from.
package validate
