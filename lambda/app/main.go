// Command app is the orders service as a Lambda function (function URL).
// Wiring only: configuration from the environment to internal/orders.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/orders"
	"github.com/pilotlight/pilotlight/internal/region"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "app")
	env, err := config.LoadFunctionEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	own, err := region.New(env.Spec(env.Region, 0))
	if err != nil {
		log.Error("clients", "err", err)
		os.Exit(1)
	}
	role := orders.RoleSecondary
	if env.Region == env.Primary {
		role = orders.RolePrimary
	}
	svc := orders.New(orders.Config{Role: role, Names: env.Names(), Lease: env.Lease, Now: env.Now(), HealthOnly: env.HealthOnly}, own)
	lambda.StartWithOptions(svc.Handle, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
