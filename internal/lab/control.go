package lab

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/replication/tables"
	"github.com/pilotlight/pilotlight/internal/lab/server"
)

// Operator is what can be done to a running lab, in process (*Lab, through
// Control) or through its control endpoint (*Client). Every method takes
// effect before it returns.
type Operator interface {
	Cut(ctx context.Context, regionName string, svc string) error
	AddLatency(ctx context.Context, regionName string, svc string, d time.Duration) error
	Restore(ctx context.Context, regionName string) error
	PauseReplication(ctx context.Context) error
	ResumeReplication(ctx context.Context) error
	SetReplicationLag(ctx context.Context, d time.Duration) error
	SetFailbackReplication(ctx context.Context, on bool) error
	// CrashControllerAfter arms a one-shot crash: the DR region's failover
	// controller process is killed as its journal write of phase returns
	// (the shipped binary has no such hook; the lab's write-time front
	// sees the write). "" disarms.
	CrashControllerAfter(ctx context.Context, phase string) error
	// SetClockOffset makes a region's functions read the time d ahead (or
	// behind): the clock-skew fault.
	SetClockOffset(ctx context.Context, regionName string, d time.Duration) error
	// LateHealthChecks drops one in three of a region's scheduled
	// health-check runs for d (a late or lost schedule delivery).
	LateHealthChecks(ctx context.Context, regionName string, d time.Duration) error
	// CutLink partitions two regions from each other (clients reach both);
	// Restore("") heals it.
	CutLink(ctx context.Context, a, b string) error
	// KickReplication starts an object replication pass now instead of at
	// the next poll (a drain is waiting for one).
	KickReplication(ctx context.Context) error
	// Replicate replicates a user's table or bucket from now on, and
	// after restarts (protect apply).
	Replicate(ctx context.Context, a Adopted) error
	// StopReplicating undoes Replicate (protect remove).
	StopReplicating(ctx context.Context, a Adopted) error
	Status(ctx context.Context) (Status, error)
	// ReplicationStatus is Status with replication only: no server is
	// called, so it stays fast when the servers are loaded.
	ReplicationStatus(ctx context.Context) (Status, error)
}

// labController adapts *Lab to Operator.
type labController struct{ l *Lab }

var _ Operator = labController{}

// Control returns the lab as an Operator.
func (l *Lab) Control() Operator { return labController{l} }

func (c labController) Cut(_ context.Context, r, svc string) error { return c.l.Cut(r, serviceOf(svc)) }
func (c labController) AddLatency(_ context.Context, r, svc string, d time.Duration) error {
	return c.l.AddLatency(r, serviceOf(svc), d)
}
func (c labController) Restore(_ context.Context, r string) error { return c.l.Restore(r) }
func (c labController) PauseReplication(_ context.Context) error  { c.l.SetPaused(true); return nil }
func (c labController) ResumeReplication(_ context.Context) error { c.l.SetPaused(false); return nil }
func (c labController) SetReplicationLag(_ context.Context, d time.Duration) error {
	return c.l.SetLag(d)
}
func (c labController) SetFailbackReplication(_ context.Context, on bool) error {
	c.l.SetFailback(on)
	return nil
}
func (c labController) Status(ctx context.Context) (Status, error) { return c.l.Status(ctx), nil }
func (c labController) CrashControllerAfter(_ context.Context, phase string) error {
	return c.l.CrashControllerAfter(phase)
}
func (c labController) SetClockOffset(_ context.Context, r string, d time.Duration) error {
	return c.l.SetClockOffset(r, d)
}
func (c labController) CutLink(_ context.Context, a, b string) error { return c.l.CutLink(a, b) }
func (c labController) LateHealthChecks(_ context.Context, r string, d time.Duration) error {
	return c.l.LateHealthChecks(r, d)
}
func (c labController) KickReplication(_ context.Context) error        { c.l.objects.Poke(); return nil }
func (c labController) Replicate(ctx context.Context, a Adopted) error { return c.l.Replicate(ctx, a) }
func (c labController) StopReplicating(ctx context.Context, a Adopted) error {
	return c.l.StopReplicating(ctx, a)
}

// SetPaused pauses or resumes replication in both directions, like the FIS
// action that pauses global table replication. Reading goes on, so resuming
// catches up from where it stopped.
func (l *Lab) SetPaused(p bool) {
	l.eachTableReplicator(func(t *tables.Replicator) { t.SetPaused(p) })
	l.objects.SetPaused(p)
	l.log.Info("replication", "paused", p)
}

// SetLag sets the delay every replicated change waits before it is applied.
func (l *Lab) SetLag(d time.Duration) error {
	if d < 0 || d > time.Hour {
		return fmt.Errorf("replication lag %s: use 0 to 1h", d)
	}
	l.eachTableReplicator(func(t *tables.Replicator) { t.SetLag(d) })
	l.objects.SetLag(d)
	l.log.Info("replication", "lag", d)
	return nil
}

// SetFailback turns object replication from the DR region back to the
// primary on or off (tables always replicate both ways, as global tables do).
func (l *Lab) SetFailback(on bool) {
	l.objects.SetFailback(on)
	l.log.Info("replication", "failback", on)
}

// Status reports both regions and replication. Backend checks use ctx and
// run in parallel, each bounded: a loaded server must not make status slow.
func (l *Lab) Status(ctx context.Context) Status {
	faults := l.Faults()
	st := l.replicationStatus()
	type check struct {
		region, svc string
		up          bool
	}
	var wg sync.WaitGroup
	checks := make(chan check, 2*len(l.regions))
	for _, r := range l.regions {
		rs := RegionStatus{Name: r.name, Endpoints: r.ep, Servers: map[string]int{}, Up: map[string]bool{}}
		for _, s := range []*server.Process{r.ddb, r.s3} {
			svc := "dynamodb"
			if s == r.s3 {
				svc = "s3"
			}
			rs.Servers[svc] = s.Pid()
			wg.Add(1)
			go func() { defer wg.Done(); checks <- check{r.name, svc, backendUp(ctx, s.Addr())} }()
		}
		for _, f := range faults {
			if f.Region == r.name {
				rs.Faults = append(rs.Faults, f)
			}
		}
		st.Regions = append(st.Regions, rs)
	}
	wg.Wait()
	close(checks)
	for c := range checks {
		for i := range st.Regions {
			if st.Regions[i].Name == c.region {
				st.Regions[i].Up[c.svc] = c.up
			}
		}
	}
	return st
}

// replicationStatus is Status without the regions: what a drain polls,
// with no call to any server.
func (l *Lab) replicationStatus() Status {
	st := Status{}
	st.Replication = append(append(l.tables.Status(), l.objects.Status()...), l.adoptedStatus()...)
	for i := range st.Replication[:2] {
		st.Replication[i].Kind = "table"
	}
	st.Lag, st.Paused = l.tables.Settings()
	st.Failback = l.objects.Failback()
	st.Adopted = l.AdoptedResources()
	if l.frontDoor != nil {
		fo := l.opts.Functions
		st.Functions = &fo
		rs := l.frontDoor.Status()
		st.Routing = &rs
	}
	if a := l.auth.Load(); a != nil {
		st.IAM = &IAMStatus{Roles: a.Sessions(), Denied: l.denials.Load()}
		if d, ok := l.lastDenial.Load().(string); ok {
			st.IAM.LastDenial = d
		}
	}
	return st
}

// ReplicationStatus reports replication only (Status.Regions empty).
func (c labController) ReplicationStatus(context.Context) (Status, error) {
	return c.l.replicationStatus(), nil
}

func backendUp(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}
