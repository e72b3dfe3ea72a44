// Command healthcheck probes its own and the peer region on a schedule and
// emits the results as CloudWatch EMF lines. Wiring only.
package main

import (
	"context"
	"encoding/json"
	"errors"
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
	target := func(r string) health.Target {
		c, err := region.New(env.Spec(r, 1))
		if err != nil {
			log.Error("clients", "err", err)
			os.Exit(1)
		}
		return health.Target{Clients: c, AppURL: env.AppURLs[r]}
	}
	// The orders service's function URLs take only signed requests
	// (AuthType AWS_IAM), on AWS and in the lab alike.
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &region.SigV4Transport{Credentials: env.Spec(env.Region, 0).Credentials, Service: "lambda"}}
	self, peer := target(env.Region), target(env.Peer)
	p := &health.Prober{Self: self, Peer: peer, Names: env.Names(),
		HTTP: hc, Timeout: 800 * time.Millisecond, S3WriteEvery: env.S3WriteEvery}
	mode, err := health.ParseMetricsMode(env.Metrics)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	// The fast profile probes every PILOTLIGHT_PROBE_INTERVAL (10s) within
	// one invocation a minute: EventBridge schedules go no finer than that.
	once := func(ctx context.Context) health.Report {
		r := p.Run(ctx)
		for _, v := range r.Verdicts {
			for _, pr := range v.Probes {
				if !pr.OK {
					log.Warn("probe failed", "target", pr.Target, "probe", pr.Probe, "latency_ms", pr.LatencyMs, "err", pr.Error)
				}
			}
		}
		if err := health.EmitWith(os.Stdout, r, mode); err != nil {
			log.Error("emit metrics", "err", err)
		}
		return r
	}
	// The write lease: the holder renews it every term/4 for the whole of
	// its share of the schedule; the other region only looks.
	q := &control.Quorum{Lease: env.Lease, Witness: env.Witness, Now: env.Now()}
	q.Stores = []*control.Store{control.New(self.Clients, env.Names()), control.New(peer.Clients, env.Names())}
	if env.Witness != "" {
		q.Stores = append(q.Stores, control.New(target(env.Witness).Clients, env.Names()))
	}
	keep := func(ctx context.Context) {
		renewFor := env.RenewFor
		if deadline, ok := ctx.Deadline(); ok {
			renewFor = min(renewFor, time.Until(deadline)-time.Second)
		}
		q.Keep(ctx, env.Region, renewFor, func(res control.RenewResult, err error) {
			if err != nil && !errors.Is(err, control.ErrNotHolder) {
				log.Warn("lease renewal failed", "err", err)
			}
			if err := health.EmitLease(os.Stdout, env.Region, res, err); err != nil {
				log.Error("emit metrics", "err", err)
			}
		})
	}
	// Once a run: how far this region's clock is off the time server (the
	// lease's safety assumes at most ε).
	clock := func(ctx context.Context) {
		if env.TimeServer == "" {
			return
		}
		off, rtt, err := health.MeasureClockOffset(ctx, env.TimeServer, env.Now())
		if err != nil {
			log.Warn("clock offset not measured", "err", err)
			return
		}
		if off > env.Lease.Epsilon/2 || off < -env.Lease.Epsilon/2 {
			log.Warn("clock offset nears the lease's bound", "offset", off.String(), "epsilon", env.Lease.Epsilon.String(), "rtt", rtt.String())
		}
		if err := health.EmitClockOffset(os.Stdout, env.Region, off, env.Lease.Epsilon); err != nil {
			log.Error("emit metrics", "err", err)
		}
	}
	handler := func(ctx context.Context, _ json.RawMessage) (health.Report, error) {
		// Beside the probes and renewals, never before them: a time server
		// that does not answer costs its timeout, not a late renewal.
		measured := make(chan struct{})
		go func() { defer close(measured); clock(ctx) }()
		defer func() { <-measured }()
		kept := make(chan struct{})
		go func() { defer close(kept); keep(ctx) }()
		defer func() { <-kept }()
		r := once(ctx)
		if env.ProbeInterval <= 0 || env.ProbeInterval >= time.Minute {
			return r, nil
		}
		start := time.Now()
		for i := 1; i < int(time.Minute/env.ProbeInterval); i++ {
			at := start.Add(time.Duration(i) * env.ProbeInterval)
			if deadline, ok := ctx.Deadline(); ok && deadline.Sub(at) < 5*time.Second {
				break
			}
			select {
			case <-ctx.Done():
				return r, nil
			case <-time.After(time.Until(at)):
			}
			r = once(ctx)
		}
		return r, nil
	}
	lambda.StartWithOptions(handler, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
