// Command healthcheck probes its own and the peer region on a schedule,
// renews the write lease while its region holds it, and emits the results
// as CloudWatch EMF lines. Wiring only: the logic is internal/health.
package main

import (
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/health"
	"github.com/pilotlight/pilotlight/internal/region"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "healthcheck")
	env, err := config.LoadFunctionEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	mode, err := health.ParseMetricsMode(env.Metrics)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	clients := func(r string) *region.Clients {
		c, err := region.New(env.Spec(r, 1))
		if err != nil {
			log.Error("clients", "err", err)
			os.Exit(1)
		}
		return c
	}
	self, peer := clients(env.Region), clients(env.Peer)
	// The orders service's function URLs take only signed requests
	// (AuthType AWS_IAM), on AWS and in the lab alike.
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &region.SigV4Transport{Credentials: env.Spec(env.Region, 0).Credentials, Service: "lambda"}}
	q := &control.Quorum{Lease: env.Lease, Witness: env.Witness, Now: env.Now(),
		Stores: []*control.Store{control.New(self, env.Names()), control.New(peer, env.Names())}}
	if env.Witness != "" {
		q.Stores = append(q.Stores, control.New(clients(env.Witness), env.Names()))
	}
	fn := health.Function{
		Prober: &health.Prober{Self: health.Target{Clients: self, AppURL: env.AppURLs[env.Region]}, Peer: health.Target{Clients: peer, AppURL: env.AppURLs[env.Peer]},
			Names: env.Names(), HTTP: hc, Timeout: 800 * time.Millisecond, S3WriteEvery: env.S3WriteEvery},
		Quorum: q, Region: env.Region, RenewFor: env.RenewFor, ProbeInterval: env.ProbeInterval,
		TimeServer: env.TimeServer, Epsilon: env.Lease.Epsilon, Now: env.Now(), Metrics: mode, Out: os.Stdout, Log: log,
	}
	lambda.StartWithOptions(fn.Handle, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
