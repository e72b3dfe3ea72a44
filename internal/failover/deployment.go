package failover

import (
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
)

// Deployment is the one description of a deployment that every controller
// is built from: the failover-controller function's (from its own
// environment), the CLI's on AWS (from the deployed function's
// configuration, read in the DR region) and the lab's (from the environment
// the lab gave that function, itself resolved from the templates). Nothing
// re-derives a part of it: a controller with another witness or another
// lease term than the function's could grant a lease the function's
// protocol does not know about.
type Deployment struct {
	Primary string // the region behind the primary routing record
	DR      string // where the failover controller runs
	// Witness is the third control record's region ("": two-region mode,
	// split-brain protection best effort).
	Witness string
	// Lease is the write lease's arithmetic: term, ε, δ.
	Lease control.LeaseConfig
	// AgreementWait is how long an unplanned failover waits for the routing
	// view to agree the source is down.
	AgreementWait time.Duration
	// MinDwell refuses a failover sooner than this after the last one.
	MinDwell time.Duration
	// Manual: the detection alarm only notifies; a person fails over.
	Manual bool
}

// DeploymentOf is the deployment a failover-controller function's
// environment describes. The function runs in the DR region, so its own
// region is DR and its peer the primary.
func DeploymentOf(env config.FunctionEnv) Deployment {
	d := Deployment{Primary: env.Primary, DR: env.Region, Witness: env.Witness, Lease: env.Lease,
		AgreementWait: env.AgreementWait, MinDwell: env.MinDwell, Manual: env.Manual}
	if d.DR == d.Primary {
		d.DR = env.Peer
	}
	if d.AgreementWait == 0 {
		d.AgreementWait = DefaultAgreementWait
	}
	return d
}

// String is the description in one line, for logs and `status`.
func (d Deployment) String() string {
	w := d.Witness
	if w == "" {
		w = "none (best effort)"
	}
	return fmt.Sprintf("primary %s, dr %s, witness %s, lease term %s (ε %s, δ %s), agreement wait %s, min dwell %s",
		d.Primary, d.DR, w, d.Lease.Term, d.Lease.Epsilon, d.Lease.Delta, d.AgreementWait, d.MinDwell)
}
