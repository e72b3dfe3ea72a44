// Package faults owns the lab's faults: the Toxiproxy proxies before each
// region's DynamoDB and S3 and on the links between regions, the faults
// on them (a cut, added latency, a partition), and the fault table the
// lab's invoke path reads for Lambda.
//
// It must not decide what a fault means for replication or the drill: the
// lab pauses replication on a partition, the drill asserts outcomes.
package faults
