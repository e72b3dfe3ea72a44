package control

import (
	"context"
	"time"
)

// ConfirmLate is the last step of a renewal whose grants landed earlier:
// the holder's lease item and journaled interval written now.
func (q *Quorum) ConfirmLate(ctx context.Context, self string, epoch int64, t0 time.Time) error {
	_, err := q.confirm(ctx, self, epoch, t0, t0.Add(q.Lease.Term), RenewResult{})
	return err
}

// StallClaims makes every claim of q run stall after it has decided and
// before its writes go out.
func (q *Quorum) StallClaims(stall func()) { q.beforeClaimWrites = stall }
