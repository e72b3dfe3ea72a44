package backup

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/pilotlight/pilotlight/internal/metrics"
)

// Function is what the backup-manager function does with each invocation
// (a Request, or its schedule's event: create, prune, then a restore test
// of the new snapshot): snapshots,
// retention and restore tests, each create and restore test also an EMF
// datapoint on Out (the alarms on backups watch them).
type Function struct {
	Manager *Manager
	Region  string
	// Keep and MaxAge are the retention a scheduled prune applies.
	Keep   int
	MaxAge time.Duration
	Out    io.Writer
}

// Handle runs one invocation and returns what it did, by action.
func (f Function) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	req, err := ParseRequest(payload)
	if err != nil {
		return nil, err
	}
	dims := map[string]string{"Region": f.Region, "Table": f.Manager.Table}
	out := map[string]any{}
	if req.Action == ActionCreate || req.Action == ActionScheduled {
		man, err := f.Manager.Create(ctx)
		if err != nil {
			return nil, err
		}
		out["snapshot"] = man
		_ = metrics.Write(f.Out, metrics.Namespace, time.Now(), dims,
			metrics.Datapoint{Name: metrics.BackupItems, Unit: "Count", Value: float64(man.ItemCount)})
	}
	if req.Action == ActionPrune || req.Action == ActionScheduled {
		res, err := f.Manager.Prune(ctx, req.Retention(f.Keep, f.MaxAge))
		if err != nil {
			return nil, err
		}
		out["prune"] = res
	}
	if req.Action == ActionVerify || req.Action == ActionScheduled {
		// The schedule tests the snapshot it just took: the restore-test
		// alarm watches RestoreTestOK, which only a restore test emits.
		id := req.Snapshot
		if m, ok := out["snapshot"].(*Manifest); ok && req.Action == ActionScheduled {
			id = m.ID
		}
		v, err := f.Manager.Verify(ctx, id)
		if err != nil {
			return nil, err
		}
		ok := 0.0
		if v.Passed {
			ok = 1
		}
		_ = metrics.Write(f.Out, metrics.Namespace, time.Now(), dims, metrics.Datapoint{Name: metrics.RestoreTestOK, Value: ok})
		out["verify"] = v
	}
	return out, nil
}
