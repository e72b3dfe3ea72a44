// Package server owns the lab's server processes: fetching and verifying
// DynamoDB Local, versitygw and the Lambda runtime interface emulator into
// the cache (Ensure, Find), starting children that die with the lab and
// answer on their port (Start, StartProcess, RetryPorts), handing out free
// ports, and finding or stopping a process by pid without signalling a
// recycled one (Alive, Kill).
//
// It must not know what the servers are for: regions, tables and faults
// are the lab's.
package server
