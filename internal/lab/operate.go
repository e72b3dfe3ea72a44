package lab

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Clients returns SDK clients for both lab regions described by the state,
// through the proxies. maxAttempts 1 is for probes and control writes.
func (s State) Clients(maxAttempts int) (map[string]*region.Clients, error) {
	out := map[string]*region.Clients{}
	for name, r := range s.Regions {
		c, err := region.New(LabSpec(name, r.Endpoints, s.Credentials, maxAttempts))
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
	return region.New(LabSpec(s.Witness, s.WitnessRegion.Endpoints, s.Credentials, maxAttempts))
}

// Names returns the lab's resource names.
func (s State) Names() region.Names { return region.Names{App: s.App} }

// Controller builds a failover controller for the lab an operator or a drill
// drives from outside: probes and control writes with one attempt, the front
// door as the routing view, the notifications log, and a drainer that waits
// for the table canary and for the lab's object replication backlog to
// empty.
func (c *Client) Controller() (*failover.Controller, error) {
	s := c.State
	clients, err := s.Clients(1)
	if err != nil {
		return nil, err
	}
	full, err := s.Clients(0)
	if err != nil {
		return nil, err
	}
	names := s.Names()
	stores := map[string]*control.Store{}
	for r, cl := range clients {
		stores[r] = control.New(cl, names)
	}
	fc := &failover.Controller{
		Stores:       stores,
		Probe:        failover.RegionProber{Clients: clients, Names: names},
		Verifier:     failover.WriteVerifier(clients, names),
		Notify:       &failover.FileNotifier{Path: filepath.Join(c.Dir, "notifications.log")},
		FenceTimeout: 2 * time.Second, AgreementWait: 5 * time.Second,
		Drain: failover.TableDrainer{Clients: full, Names: names, Objects: c.drainObjects},
	}
	if s.FrontDoor != "" {
		fc.Routing = failover.HTTPRouting{URL: s.FrontDoor + "/_pilotlight/routing", Client: &http.Client{Timeout: 2 * time.Second}}
	}
	return fc, nil
}

// drainObjects waits until the lab's object replication from → to has no
// backlog, twice in a row (a version written just before the first look is
// listed by the second).
func (c *Client) drainObjects(ctx context.Context, from, to string) error {
	clear := 0
	for {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		pending := -1
		for _, d := range st.Replication {
			if d.Kind == "objects" && d.From == from && d.To == to {
				if !d.Enabled {
					return fmt.Errorf("object replication %s → %s is off: turn failback replication on first", from, to)
				}
				pending = d.Pending
			}
		}
		if pending == 0 {
			clear++
			if clear == 2 {
				return nil
			}
		} else {
			clear = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("object replication %s → %s still has %d pending: %w", from, to, pending, ctx.Err())
		case <-time.After(150 * time.Millisecond):
		}
	}
}
