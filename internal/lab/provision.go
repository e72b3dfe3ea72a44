package lab

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/lab/fnenv"
	"github.com/pilotlight/pilotlight/internal/lab/provision"
	"github.com/pilotlight/pilotlight/internal/region"
)

// provisionRegions are the lab's regions as package provision sees them.
func (l *Lab) provisionRegions() []provision.Region {
	var out []provision.Region
	for _, r := range l.allRegions() {
		out = append(out, provision.Region{Name: r.name, Clients: r.clients, Witness: r.witness})
	}
	return out
}

// provision creates the lab's tables and buckets — from the templates when
// Options.Resources is set, else the lab's own — and the first active
// record in every control table. Existing resources are left as they are.
func (l *Lab) provision(ctx context.Context) error {
	if l.opts.Resources == nil {
		return l.Provision(ctx, l.opts.Names)
	}
	witness := ""
	if l.witness != nil {
		witness = l.witness.name
	}
	res, err := l.opts.Resources(fnenv.Check{Names: l.opts.Names, Primary: l.opts.Primary, DR: l.opts.DR, Witness: witness,
		Manual: l.opts.Functions.Manual, AppURL: func(r string) string { return fnenv.AppURL("http://lab.invalid", r) }})
	if err != nil {
		return fmt.Errorf("the templates' resources: %w", err)
	}
	return provision.Templates(ctx, l.provisionRegions(), l.opts.Names, l.opts.Primary, res)
}

// Provision creates the tables and buckets of names in both regions, and
// the first active record (the primary, epoch 1) in every control table,
// the witness's included. Tests use it to get resources of their own;
// only the lab's own names are replicated.
func (l *Lab) Provision(ctx context.Context, n region.Names) error {
	return provision.Own(ctx, l.provisionRegions(), n, l.opts.Primary)
}

// firstLease renews the lease of the region the control records name, as
// its health check will every term/4 from now on.
func (l *Lab) firstLease(ctx context.Context) error {
	q := &control.Quorum{Lease: LeaseConfig, Witness: l.Witness()}
	for _, r := range l.allRegions() {
		q.Stores = append(q.Stores, control.New(r.clients, l.opts.Names))
	}
	v, err := q.Read(ctx, 5*time.Second)
	if err != nil {
		return fmt.Errorf("first lease: %w", err)
	}
	if v.Active.Region == "" || v.Active.Hold != "" {
		return nil // no region is active (a lab restarted mid-handover): the controller's tick resolves it
	}
	if _, err := q.Renew(ctx, v.Active.Region); err != nil && !errors.Is(err, control.ErrNotHolder) {
		return fmt.Errorf("first lease for %s: %w", v.Active.Region, err)
	}
	return nil
}
