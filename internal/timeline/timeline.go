// Package timeline owns what a target saw happen, as its own log keeps it:
// a fault injected, an alarm's change of state, a change of routing. The
// lab writes these events, a target hands them out, and a drill's report
// lays them beside the failover journal. It imports nothing of
// pilotlight's, so a reader of reports links no AWS SDK.
package timeline

import "time"

// Event is one entry of a target's own log.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Region string    `json:"region,omitempty"`
	Detail string    `json:"detail"`
}
