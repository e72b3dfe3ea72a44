package lab

import (
	"context"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/lab/server"
)

// SetPaused pauses or resumes replication (replication.Set.SetPaused).
func (l *Lab) SetPaused(p bool) { l.repl.SetPaused(p) }

// SetLag sets the replication lag (replication.Set.SetLag).
func (l *Lab) SetLag(d time.Duration) error { return l.repl.SetLag(d) }

// SetFailback turns failback object replication on or off
// (replication.Set.SetFailback).
func (l *Lab) SetFailback(on bool) { l.repl.SetFailback(on) }

// Replicate makes the lab replicate a user's table or bucket
// (replication.Set.Replicate).
func (l *Lab) Replicate(ctx context.Context, a replication.Adopted) error {
	return l.repl.Replicate(ctx, a)
}

// StopReplicating undoes Replicate (replication.Set.StopReplicating).
func (l *Lab) StopReplicating(ctx context.Context, a replication.Adopted) error {
	return l.repl.StopReplicating(ctx, a)
}

// Status reports both regions and replication. Backend checks use ctx and
// run in parallel, each bounded: a loaded server must not make status slow.
func (l *Lab) Status(ctx context.Context) Status {
	faults := l.Faults()
	st := l.ReplicationStatus()
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
			go func() { defer wg.Done(); checks <- check{r.name, svc, s.Answers(ctx)} }()
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

// ReplicationStatus is Status without the regions: what a drain polls,
// with no call to any server.
func (l *Lab) ReplicationStatus() Status {
	st := Status{}
	st.Replication = l.repl.Status()
	st.Lag, st.Paused, st.Failback = l.repl.Settings()
	st.Adopted = l.repl.Adopted()
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

// KickReplication starts an object replication pass now instead of at
// the next poll (a drain is waiting for one).
func (l *Lab) KickReplication() { l.repl.Poke() }
