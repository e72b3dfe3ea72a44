package control

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

// View is what the three records say together.
type View struct {
	// Active is the holder of the highest epoch present on a majority of
	// records (zero Region when no epoch is: no region is active).
	Active  record.Active
	Records map[string]record.Active // per region; missing when unreadable
	Errors  map[string]error
}

// agreed picks, among the records at a's (holder, epoch), the one whose
// hold and grant the view reports, the same whichever order the records
// were read in: the holder's own record when it agrees (its write path
// reads that one), else a held one (a hold not yet lifted everywhere
// still stops renewals there), else the latest grant.
func (v View) agreed(a record.Active) record.Active {
	if a.Region == "" {
		return a
	}
	if own, ok := v.Records[a.Region]; ok && own.Epoch == a.Epoch && own.Region == a.Region {
		return own
	}
	regions := make([]string, 0, len(v.Records))
	for r := range v.Records {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var best record.Active
	found := false
	for _, r := range regions {
		x := v.Records[r]
		if x.Epoch != a.Epoch || x.Region != a.Region {
			continue
		}
		switch {
		case !found:
			best, found = x, true
		case (x.Hold != "") != (best.Hold != ""):
			if x.Hold != "" {
				best = x
			}
		case x.GrantedUntil.After(best.GrantedUntil):
			best = x
		}
	}
	return best
}

// HighestEpoch is the highest epoch on any readable record.
func (v View) HighestEpoch() int64 {
	var e int64
	for _, a := range v.Records {
		e = max(e, a.Epoch)
	}
	return e
}

// Read reads every record (each call capped at limit) and works out the
// active region: the holder of the highest epoch present on a majority.
func (q *Quorum) Read(ctx context.Context, limit time.Duration) (View, error) {
	var mu sync.Mutex
	read := map[string]record.Active{}
	_, errs := q.each(ctx, limit, func(ctx context.Context, s *Store) error {
		a, err := s.Active(ctx)
		if err == nil {
			mu.Lock()
			read[s.Region] = a
			mu.Unlock()
		}
		return err
	})
	// Calls still out when ctx ended write later: copy under the lock.
	v := View{Records: map[string]record.Active{}}
	mu.Lock()
	for r, a := range read {
		v.Records[r] = a
	}
	mu.Unlock()
	v.Errors = errs
	need := q.Need()
	if need == 1 {
		need = len(q.Stores) // two-region mode: both records must agree
	}
	type hk struct {
		region string
		epoch  int64
	}
	count := map[hk]int{}
	for _, a := range v.Records {
		count[hk{a.Region, a.Epoch}]++
	}
	for _, a := range v.Records {
		if count[hk{a.Region, a.Epoch}] >= need && a.Epoch > v.Active.Epoch {
			v.Active = a
		}
	}
	v.Active = v.agreed(v.Active)
	if len(v.Records) < need {
		return v, fmt.Errorf("read control records: %d of %d readable (need %d): %s", len(v.Records), len(q.Stores), need, joinErrs(errs))
	}
	return v, nil
}
