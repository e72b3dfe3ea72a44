package replication

import (
	"context"
	"os"
	"time"
)

// WriteFile replaces path with b atomically (a temporary file renamed
// over it): a replicator that dies while saving its position leaves the
// old position or the new one, never half of one.
func WriteFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CallContext bounds one call to a region's server: a cut region must
// not hold a replicator up for longer.
func CallContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 2*time.Second)
}
