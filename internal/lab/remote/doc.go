// Package remote is the lab as a process of its own: Serve runs it in the
// supervisor (`pilotlight lab up` starts one in the background), writes
// its state file and answers its control API on 127.0.0.1; Connect gives
// another process a Client of that API (faults, replication, invocations,
// status, events) and the State it read; Stop ends it and what it started.
//
// It must not run servers, replicate or inject faults itself: package lab
// does, and remote carries its operations across processes.
package remote
