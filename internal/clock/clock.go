// Package clock owns waiting on the wall clock: Sleep, the one pause every
// package takes that a cancelled context ends at once (a drill's phases,
// a stack's polling, apply's waits, the validator's settle window).
package clock

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx is done, and then returns why it is
// (context.Cause: its error, or the cause it was cancelled with).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
