// Command datavalidator compares the protected table (and bucket) of the two
// regions, emits the findings as EMF metrics and returns the report; or,
// fanned out, scans one segment range and returns its partial digests.
// Wiring only.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "datavalidator")
	env, err := config.LoadFunctionEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	clients := func(r string) *region.Clients {
		c, err := region.New(env.Spec(r, 0))
		if err != nil {
			log.Error("clients", "err", err)
			os.Exit(1)
		}
		return c
	}
	primary, dr := env.Primary, env.Peer
	if primary == env.Peer {
		dr = env.Region
	}
	pc, dc := clients(primary), clients(dr)
	fn := validate.Function{Primary: pc, DR: dc, Names: env.Names(), Out: os.Stdout, Log: log}
	lambda.StartWithOptions(fn.Handle, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
