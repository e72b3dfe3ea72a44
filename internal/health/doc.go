// Package health owns probes and verdicts: whether a region's DynamoDB, S3
// and application answer, how long they take, and how far behind table
// replication is (the replication canary). The health-check function runs
// it in both regions on a schedule and emits the results as EMF metrics.
//
// Probes never retry behind the caller's back: clients are built with one
// attempt and every probe has its own deadline, so an outage shows as it is.
package health
