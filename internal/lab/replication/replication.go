package replication

import (
	"context"
	"os"
	"time"
)

// Status describes replication in one direction.
type Status struct {
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

// WriteFile replaces path with b atomically (a temporary file renamed
// over it): a replicator that dies while saving its position leaves the
// old position or the new one, never half of one.
func WriteFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CallContext bounds one call to a region's server: a cut region must
// not hold a replicator up for longer.
func CallContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*time.Second)
}
