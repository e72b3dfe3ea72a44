package lab

import (
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/faults"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/lab/routing"
	"github.com/pilotlight/pilotlight/internal/region"
)

// RegionStatus describes one lab region.
type RegionStatus struct {
	Name      string          `json:"name"`
	Endpoints Endpoints       `json:"endpoints"`
	Servers   map[string]int  `json:"pids"`
	Up        map[string]bool `json:"up"` // service -> backend answers
	Faults    []faults.Fault  `json:"faults,omitempty"`
}

// Status is the lab's state as `pilotlight lab status` shows it.
type Status struct {
	Regions     []RegionStatus             `json:"regions"`
	Replication []region.ReplicationStatus `json:"replication"`
	Lag         time.Duration              `json:"lag_ns"`
	Paused      bool                       `json:"paused"`
	Failback    bool                       `json:"failback_replication"`
	// Functions holds the function, alarm and routing settings, when on.
	Functions *FunctionOptions       `json:"functions,omitempty"`
	Routing   *routing.RoutingStatus `json:"routing,omitempty"`
	// IAM: whether the functions run as their template roles, and how many
	// requests the roles' policies refused.
	IAM *IAMStatus `json:"iam,omitempty"`
	// Adopted: the users' tables and buckets the lab replicates (protect
	// apply).
	Adopted []replication.Adopted `json:"adopted,omitempty"`
}

// IAMStatus is the lab's enforcement of the templates' IAM.
type IAMStatus struct {
	Roles      int    `json:"roles"`
	Denied     int64  `json:"denied"`
	LastDenial string `json:"last_denial,omitempty"`
}
