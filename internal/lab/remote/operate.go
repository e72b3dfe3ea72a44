package remote

import (
	"context"
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Clients returns SDK clients for both lab regions described by the state,
// through the proxies. maxAttempts 1 is for probes and control writes.
func (s State) Clients(maxAttempts int) (map[string]*region.Clients, error) {
	out := map[string]*region.Clients{}
	for name, r := range s.Regions {
		c, err := region.New(lab.LabSpec(name, r.Endpoints, s.Credentials, maxAttempts))
		if err != nil {
			return nil, err
		}
		out[name] = c
	}
	return out, nil
}

// WitnessClients returns SDK clients for the witness region (nil without
// one), through its proxy.
func (s State) WitnessClients(maxAttempts int) (*region.Clients, error) {
	if s.WitnessRegion == nil {
		return nil, nil
	}
	return region.New(lab.LabSpec(s.Witness, s.WitnessRegion.Endpoints, s.Credentials, maxAttempts))
}

// Names returns the lab's resource names.
func (s State) Names() region.Names { return region.Names{App: s.App} }

// DrainObjects waits until everything written in from before the drain
// began has been copied to to: a pass of the lab's object replication that
// began after the drain did listed every version without an error and left
// nothing written before then pending. (A pending count alone is 0 before
// the first pass and after a failed listing: it proves nothing; and while
// writes go on it is never 0 with a lag.)
func (c *Client) DrainObjects(ctx context.Context, from, to string) error {
	since := time.Now().UTC()
	// Do not wait out an idle poll interval: start a pass now.
	if err := c.KickReplication(ctx); err != nil {
		return err
	}
	for {
		st, err := c.ReplicationStatus(ctx)
		if err != nil {
			return err
		}
		var d *region.ReplicationStatus
		for i := range st.Replication {
			if r := st.Replication[i]; r.Kind == "objects" && r.From == from && r.To == to {
				d = &st.Replication[i]
			}
		}
		switch {
		case d == nil:
			return fmt.Errorf("the lab has no object replication %s → %s", from, to)
		case !d.Enabled:
			return fmt.Errorf("object replication %s → %s is off: turn failback replication on first", from, to)
		case d.PassAt.After(since) && (d.OldestPendingWritten.IsZero() || !d.OldestPendingWritten.Before(since)):
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("object replication %s → %s: no clean pass since the drain began (%d pending, last error %q): %w", from, to, d.Pending, d.LastError, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// DrainReady says whether a drain from → to can succeed: replication not
// paused and, for objects, the rule on.
func (c *Client) DrainReady(ctx context.Context, from, to string) error {
	st, err := c.ReplicationStatus(ctx)
	if err != nil {
		return err
	}
	if st.Paused {
		return fmt.Errorf("replication is paused: run `pilotlight lab replication resume` first")
	}
	for _, d := range st.Replication {
		if d.Kind == "objects" && d.From == from && d.To == to && !d.Enabled {
			return fmt.Errorf("object replication %s → %s is off: turn failback replication on first", from, to)
		}
	}
	return nil
}
