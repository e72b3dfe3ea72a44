// Package front owns the lab's fronts: HTTP proxies between a region's
// fault proxy and its servers that watch, and never change, the traffic.
// The write-time front (DynamoDB) notes when each user's write to the
// replicated table was answered, so the table replicator resolves
// conflicts by the time of the write as global tables do; the change front
// (S3) feeds each new object version to the object replicator. Both take
// a Gate (the lab's IAM) and the write-time front an Observe hook (the
// controller-crash fault).
//
// It must not replicate anything, nor decide what a gate allows.
package front
