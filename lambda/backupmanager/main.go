// Command backupmanager takes snapshots of the protected table into the
// region's backup bucket, applies retention and runs restore tests.
// Wiring only: the logic is internal/backup.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/config"
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
	m := backup.ForDeployment(c, env.Names())
	m.Progress = func(format string, args ...any) { log.Info("progress", "msg", format, "args", args) }
	fn := backup.Function{Manager: m, Region: env.Region, Keep: env.BackupKeep, MaxAge: env.BackupMaxAge, Out: os.Stdout}
	lambda.StartWithOptions(fn.Handle, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
