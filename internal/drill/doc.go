// Package drill owns drills: a workload that writes orders through the
// routed entry point and logs every acknowledged write, scenarios that
// inject a fault and let detection and failover happen on their own, the
// planned failback, the checks that every acknowledged write survived, and
// the report with RTO (and its breakdown) and RPO — measured from the
// workload's own log and the failover journal, never estimated.
package drill
