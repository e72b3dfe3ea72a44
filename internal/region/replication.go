package region

import "time"

// ReplicationStatus is replication in one direction, between two regions:
// the lab's replicators report it; on AWS the metrics say as much.
type ReplicationStatus struct {
	Kind            string    `json:"kind"` // "table" or "objects"
	From            string    `json:"from"`
	To              string    `json:"to"`
	Enabled         bool      `json:"enabled"`
	Paused          bool      `json:"paused"`
	Pending         int       `json:"pending"`           // changes read, not yet applied
	OldestPendingMs int64     `json:"oldest_pending_ms"` // age of the oldest pending change
	Applied         int64     `json:"applied"`
	LastLagMs       int64     `json:"last_lag_ms"` // observed-to-applied time of the last change
	LastApplied     time.Time `json:"last_applied,omitzero"`
	LastError       string    `json:"last_error,omitempty"`
	// PassAt is when the last pass that listed every version and copied
	// what was due without an error began, and OldestPendingWritten the
	// write time (LastModified) of the oldest version it left pending
	// (zero: none). Objects only. Everything written before T has
	// replicated once a pass began after T and left nothing written
	// before T pending (LastModified is rounded down, which only makes
	// that test stricter).
	PassAt               time.Time `json:"pass_at,omitzero"`
	OldestPendingWritten time.Time `json:"oldest_pending_written,omitzero"`
}
