package target

import (
	"context"
	"net/http"
	"time"

	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/timeline"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// Kind says which target a report or a status line is about.
type Kind string

const (
	// KindLab: the local lab (pilotlight lab up).
	KindLab Kind = "lab"
	// KindAWS: a deployment in an AWS account (pilotlight deploy).
	KindAWS Kind = "aws"
)

// Target is a deployment pilotlight acts on. Every call that may touch the
// network takes a context first. Implementations: *Lab and *AWS.
type Target interface {
	Deployment
	Faults
	Traffic
	// Close releases what the target started (watchers, connections).
	Close()
}

// Deployment is where the application runs and how to reach its parts.
type Deployment interface {
	Kind() Kind
	Primary() string
	DR() string
	Names() region.Names
	// Clients reach both regions' data with the SDK's retries.
	Clients() map[string]*region.Clients
	// Controller builds the failover controller an operator's command or
	// a drill drives (failover.New, with the target's routing view,
	// drainer and notifier).
	Controller(ctx context.Context) (*failover.Controller, error)
	// Invoke calls one of the deployment's functions ("healthcheck", …)
	// in a region and returns its response.
	Invoke(ctx context.Context, region, function string, payload []byte) ([]byte, error)
	// Validate compares the two regions' data.
	Validate(ctx context.Context) (*verdict.Report, error)
	// Observe reports what the target sees beyond the control records:
	// routing, servers, faults, replication, health metrics.
	Observe(ctx context.Context) (Observation, error)
}

// Faults is how a drill takes a region down and back.
type Faults interface {
	// Prepare ends faults and pauses an earlier drill may have left, and
	// readies the clients' view of the active region.
	Prepare(ctx context.Context) error
	// Inject takes a region down and says how.
	Inject(ctx context.Context, region string) (string, error)
	// Heal ends the faults of a region ("" for every region).
	Heal(ctx context.Context, region string) error
	// FailbackReplication turns DR → primary object replication on or off
	// around a failback (on AWS the stacks own the rules: nothing to do).
	FailbackReplication(ctx context.Context, on bool) error
	// OutageProfile says what a drill holds this target's region outage to.
	OutageProfile() OutageProfile
}

// OutageProfile is what a target's region outage means for a drill's
// figures: a value the target supplies, so a drill never asks which target
// it drives.
type OutageProfile struct {
	// RPONote explains the RPO measured ("": nothing to add).
	RPONote string
	// RTOSlack, when set, is how far over the detection floor a region
	// outage's RTO may be (the lab: its servers answer at once); zero: only
	// the RTO objective applies.
	RTOSlack time.Duration
}

// Traffic is how clients reach the service, and what the target knows of
// its own detection.
type Traffic interface {
	// URL is where a client sends a write now; HTTP sends it.
	URL() string
	// RegionURL is where a client sends a write to one region.
	RegionURL(region string) string
	HTTP() *http.Client
	// Routed names the region clients are sent to now ("" if unknown) and
	// whether that answer is settled.
	Routed(ctx context.Context) (string, bool)
	// DetectionFloor is the least time detection and routing can take,
	// and how it is made up (0: not known).
	DetectionFloor(ctx context.Context) (time.Duration, string)
	// Events are the target's own records of what happened since (the
	// lab's event log; none on AWS).
	Events(ctx context.Context, since time.Time) []timeline.Event
}

// Observation is what a target sees beyond the control records. A field it
// cannot see is empty.
type Observation struct {
	// Routing is the routing layer's health per region; Answer the region
	// it sends clients to.
	Routing map[string]bool
	Answer  string
	// Servers and Faults per region (the lab's).
	Servers map[string]map[string]bool
	Faults  map[string][]string
	// Replication per direction and kind.
	Replication []region.ReplicationStatus
	// Paused: replication is paused (a lab fault).
	Paused bool
	// Health is the DR region's health check's latest metrics (AWS).
	Health *Health
}

// Health is the newest datapoint of the DR region's view of the primary
// and of replication lag (nil: none in the last 10 minutes).
type Health struct {
	PrimaryHealthy   *metrics.Reading `json:"primary_healthy,omitempty"`
	ReplicationLagMs *metrics.Reading `json:"replication_lag_ms,omitempty"`
	Error            string           `json:"error,omitempty"`
}
