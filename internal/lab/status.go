package lab

import "time"

// DirectionStatus describes replication in one direction.
type DirectionStatus struct {
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

// RegionStatus describes one lab region.
type RegionStatus struct {
	Name      string          `json:"name"`
	Endpoints Endpoints       `json:"endpoints"`
	Servers   map[string]int  `json:"pids"`
	Up        map[string]bool `json:"up"` // service -> backend answers
	Faults    []Fault         `json:"faults,omitempty"`
}

// Status is the lab's state as `pilotlight lab status` shows it.
type Status struct {
	Regions     []RegionStatus    `json:"regions"`
	Replication []DirectionStatus `json:"replication"`
	Lag         time.Duration     `json:"lag_ns"`
	Paused      bool              `json:"paused"`
	Failback    bool              `json:"failback_replication"`
	// Functions holds the function, alarm and routing settings, when on.
	Functions *FunctionOptions `json:"functions,omitempty"`
	Routing   *RoutingStatus   `json:"routing,omitempty"`
	// IAM: whether the functions run as their template roles, and how many
	// requests the roles' policies refused.
	IAM *IAMStatus `json:"iam,omitempty"`
}

// IAMStatus is the lab's enforcement of the templates' IAM.
type IAMStatus struct {
	Roles      int    `json:"roles"`
	Denied     int64  `json:"denied"`
	LastDenial string `json:"last_denial,omitempty"`
}
