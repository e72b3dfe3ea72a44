package control

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

// Read reads every record (each call capped at limit) and works out the
// active region: the holder of the highest epoch present on a majority.
func (q *Quorum) Read(ctx context.Context, limit time.Duration) (record.View, error) {
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
	v := record.View{Records: map[string]record.Active{}}
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
	v.Active = v.Agreed(v.Active)
	if len(v.Records) < need {
		return v, fmt.Errorf("read control records: %d of %d readable (need %d): %s", len(v.Records), len(q.Stores), need, joinErrs(errs))
	}
	return v, nil
}
