// Command backupmanager takes snapshots of the protected table into the
// region's backup bucket, applies retention and runs restore tests.
// Wiring only.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/region"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "backupmanager")
	env, err := config.LoadFunctionEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	c, err := region.New(env.Spec(env.Region, 0))
	if err != nil {
		log.Error("clients", "err", err)
		os.Exit(1)
	}
	m := backup.ForRegion(c, env.Names())
	store := control.New(c, env.Names())
	m.Epoch = func(ctx context.Context) (int64, error) {
		a, err := store.Active(ctx)
		return a.Epoch, err
	}
	m.Progress = func(format string, args ...any) { log.Info("progress", "msg", format, "args", args) }
	dims := map[string]string{"Region": env.Region, "Table": m.Table}
	handler := func(ctx context.Context, payload json.RawMessage) (any, error) {
		req, err := backup.ParseRequest(payload)
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		if req.Action == backup.ActionCreate || req.Action == backup.ActionScheduled {
			man, err := m.Create(ctx)
			if err != nil {
				return nil, err
			}
			out["snapshot"] = man
			_ = metrics.Write(os.Stdout, metrics.Namespace, time.Now(), dims,
				metrics.Datapoint{Name: metrics.BackupItems, Unit: "Count", Value: float64(man.ItemCount)})
		}
		if req.Action == backup.ActionPrune || req.Action == backup.ActionScheduled {
			res, err := m.Prune(ctx, req.Retention(env.BackupKeep, env.BackupMaxAge))
			if err != nil {
				return nil, err
			}
			out["prune"] = res
		}
		if req.Action == backup.ActionVerify {
			v, err := m.Verify(ctx, req.Snapshot)
			if err != nil {
				return nil, err
			}
			ok := 0.0
			if v.Passed {
				ok = 1
			}
			_ = metrics.Write(os.Stdout, metrics.Namespace, time.Now(), dims, metrics.Datapoint{Name: metrics.RestoreTestOK, Value: ok})
			out["verify"] = v
		}
		return out, nil
	}
	lambda.StartWithOptions(handler, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
