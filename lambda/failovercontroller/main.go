// Command failovercontroller runs in the DR region: on the alarm that says
// the primary is down it fails over; on its schedule it retries fences that
// have not landed. Wiring only: the logic is internal/failover.
package main

import (
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/failover/adapters"
	"github.com/pilotlight/pilotlight/internal/failover/arrival"
	"github.com/pilotlight/pilotlight/internal/region"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "failovercontroller")
	env, err := config.LoadFunctionEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	cfg := failover.Config{Clients: map[string]*region.Clients{}, Names: env.Names(), Deployment: failover.DeploymentOf(env), Now: env.Now()}
	for _, r := range []string{env.Region, env.Peer, env.Witness} {
		if r == "" {
			continue
		}
		if cfg.Clients[r], err = region.New(env.Spec(r, 1)); err != nil {
			log.Error("clients", "err", err)
			os.Exit(1)
		}
	}
	// The tick resumes an interrupted failback: it proves arrival as the
	// operator's controller does, through clients that retry (the control
	// records' take one attempt, to see a failure as it is; a drain's
	// reads should ride out a transient one).
	data := map[string]*region.Clients{}
	for _, r := range []string{env.Region, env.Peer} {
		if data[r], err = region.New(env.Spec(r, 0)); err != nil {
			log.Error("clients", "err", err)
			os.Exit(1)
		}
	}
	drain := &arrival.Drainer{Clients: data, Names: cfg.Names, Settle: arrival.StreamSettle, Objects: true}
	if len(env.Endpoints) > 0 { // the lab's DynamoDB Local
		drain.Rounding = arrival.LocalStreamRounding
	}
	cfg.Drain = drain
	switch { // manual mode: a person decides, the tick never does
	case env.Manual:
	case env.AlarmURL != "": // the lab's front door
		cfg.AlarmState = adapters.HTTPAlarmState(env.AlarmURL, &http.Client{Timeout: 2 * time.Second})
	case env.AlarmName != "": // AWS
		cfg.AlarmState = adapters.CloudWatchAlarmState(cloudwatch.New(cloudwatch.Options{Region: env.Region, Credentials: env.Spec(env.Region, 0).Credentials}), env.AlarmName)
	}
	switch {
	case env.RoutingURL != "": // the lab's front door
		cfg.Routing = adapters.HTTPRouting{URL: env.RoutingURL, Client: &http.Client{Timeout: 2 * time.Second}}
	case env.RoutingRecord != "": // Route 53 on AWS, beside the witness
		cfg.Routing = adapters.DNSRouting{Record: env.RoutingRecord, DRHost: env.RoutingDRHost}
	}
	switch {
	case env.NotifyFile != "":
		cfg.Notify = &adapters.FileNotifier{Path: env.NotifyFile}
	case env.NotifyTopic != "":
		cfg.Notify = adapters.SNSNotifier{SNS: sns.New(sns.Options{Region: env.Region, Credentials: env.Spec(env.Region, 0).Credentials}), Topic: env.NotifyTopic}
	}
	fn := failover.Function{Controller: failover.New(cfg), Region: env.Region, Peer: env.Peer, Primary: env.Primary, Manual: env.Manual, Log: log}
	lambda.StartWithOptions(fn.Handle, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
