// Package drill owns running one drill on a target (Drill): a workload
// that writes through the routed entry point and logs every acknowledged
// write, the region outage's steps (fault, detection and failover on their
// own, heal, planned failback), and the audit every drill ends with: every
// acknowledged write in both regions, no write acknowledged by a fenced
// region, the lease invariants, the data validator, the objectives. RTO
// (and its breakdown) and RPO are measured from the workload's own log and
// the failover journal, never estimated.
//
// It must not choose a fault or a schedule: package drill/scenario does,
// driving a Drill through its exported steps and fields.
package drill
