package failover

import (
	"context"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

// RecordView is one region's control record as an operator sees it: the
// record (or why it could not be read) and, for the two application
// regions, the write lease and whether the region may write now.
type RecordView struct {
	Region string         `json:"region"`
	Role   string         `json:"role"` // primary, dr or witness
	Record *record.Active `json:"record,omitempty"`
	Lease  *record.Lease  `json:"lease,omitempty"`
	Writes bool           `json:"accepts_writes"`
	Why    string         `json:"why_not,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// Overview is which region is active and every control record.
type Overview struct {
	// Active is the holder of the highest epoch on a majority of the
	// control records ("" when no epoch has one).
	Active   string
	Epoch    int64
	Witness  string
	Writable []string // the regions whose own record lets them write now
	Records  []RecordView
	// Unreadable counts records that could not be read; Err is the quorum
	// read's error (no majority agrees).
	Unreadable int
	Err        error
}

// Overview reads every control record and the two regions' leases.
func (c *Controller) Overview(ctx context.Context, primary, dr string) Overview {
	view, verr := c.View(ctx, primary, dr)
	o := Overview{Active: view.Active.Region, Epoch: view.Active.Epoch, Witness: c.cfg.Witness, Err: verr}
	now := c.now()
	roles := []string{primary, dr}
	if c.cfg.Witness != "" {
		roles = append(roles, c.cfg.Witness)
	}
	role := map[string]string{primary: "primary", dr: "dr", c.cfg.Witness: "witness"}
	for _, r := range roles {
		rv := RecordView{Region: r, Role: role[r]}
		if a, ok := view.Records[r]; ok {
			rv.Record = &a
		} else if err := view.Errors[r]; err != nil {
			rv.Error, o.Unreadable = err.Error(), o.Unreadable+1
		}
		if r != c.cfg.Witness {
			if s, ok := c.cfg.Stores[r]; ok {
				if ws, err := s.WriteState(ctx); err == nil {
					rv.Lease = &ws.Lease
					if why := ws.Writable(r, now, c.lease()); why != nil {
						rv.Why = why.Error()
					} else {
						rv.Writes = true
						o.Writable = append(o.Writable, r)
					}
				}
			}
		}
		o.Records = append(o.Records, rv)
	}
	return o
}

// Runs reads every failover run from the control journals, keeping for
// each epoch the longest journal any region holds (a region cut during a
// run journals less). It fails only when no journal can be read.
func (c *Controller) Runs(ctx context.Context) (map[int64][]record.Entry, error) {
	runs := map[int64][]record.Entry{}
	var firstErr error
	for _, st := range c.cfg.Stores {
		rs, err := st.Runs(ctx)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for e, es := range rs {
			if len(es) > len(runs[e]) {
				runs[e] = es
			}
		}
	}
	if len(runs) == 0 {
		return nil, firstErr
	}
	return runs, nil
}
