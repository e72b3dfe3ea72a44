// Package labtarget is the lab's adapter for target.Target: a running lab
// reached through its control API (internal/lab/remote), with the lab's
// data clients, its front door, its event log and the controller its
// functions run. Beyond a Target it offers the chaos scenarios' faults
// (scenario.LabFaults): cutting a service or a link, latency, replication
// pause and lag, clock offsets, a controller crash at a phase.
package labtarget
