// Package report owns what a drill leaves behind: the Report (RTO and its
// breakdown, RPO, failback, the invariants' counts, the validator's
// verdict, the workload's timeline), its summary and chaos table for the
// terminal, its chart and self-contained HTML page, and the History of
// every drill kept on disk.
//
// It must not run a drill or measure anything: package drill fills the
// report.
package report
