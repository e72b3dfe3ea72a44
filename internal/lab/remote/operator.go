package remote

import (
	"context"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Operator is what can be done to a running lab, in process (a *lab.Lab
// through inProcess) or through its control endpoint (*Client). Every method takes
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
	Replicate(ctx context.Context, a replication.Adopted) error
	// StopReplicating undoes Replicate (protect remove).
	StopReplicating(ctx context.Context, a replication.Adopted) error
	Status(ctx context.Context) (lab.Status, error)
	// ReplicationStatus is Status with replication only: no server is
	// called, so it stays fast when the servers are loaded.
	ReplicationStatus(ctx context.Context) (lab.Status, error)
}

// inProcess adapts a *lab.Lab in this process to Operator: it is what
// the control endpoint applies its requests to.
type inProcess struct{ l *lab.Lab }

var _ Operator = inProcess{}

func (c inProcess) Cut(_ context.Context, r, svc string) error {
	return c.l.Cut(r, region.Service(svc))
}
func (c inProcess) AddLatency(_ context.Context, r, svc string, d time.Duration) error {
	return c.l.AddLatency(r, region.Service(svc), d)
}
func (c inProcess) Restore(_ context.Context, r string) error { return c.l.Restore(r) }
func (c inProcess) PauseReplication(_ context.Context) error  { c.l.SetPaused(true); return nil }
func (c inProcess) ResumeReplication(_ context.Context) error { c.l.SetPaused(false); return nil }
func (c inProcess) SetReplicationLag(_ context.Context, d time.Duration) error {
	return c.l.SetLag(d)
}
func (c inProcess) SetFailbackReplication(_ context.Context, on bool) error {
	c.l.SetFailback(on)
	return nil
}
func (c inProcess) Status(ctx context.Context) (lab.Status, error) { return c.l.Status(ctx), nil }
func (c inProcess) ReplicationStatus(context.Context) (lab.Status, error) {
	return c.l.ReplicationStatus(), nil
}
func (c inProcess) CrashControllerAfter(_ context.Context, phase string) error {
	return c.l.CrashControllerAfter(phase)
}
func (c inProcess) SetClockOffset(_ context.Context, r string, d time.Duration) error {
	return c.l.SetClockOffset(r, d)
}
func (c inProcess) CutLink(_ context.Context, a, b string) error { return c.l.CutLink(a, b) }
func (c inProcess) LateHealthChecks(_ context.Context, r string, d time.Duration) error {
	return c.l.LateHealthChecks(r, d)
}
func (c inProcess) KickReplication(_ context.Context) error { c.l.KickReplication(); return nil }
func (c inProcess) Replicate(ctx context.Context, a replication.Adopted) error {
	return c.l.Replicate(ctx, a)
}
func (c inProcess) StopReplicating(ctx context.Context, a replication.Adopted) error {
	return c.l.StopReplicating(ctx, a)
}
