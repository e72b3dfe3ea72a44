// Command failovercontroller runs in the DR region: on the alarm that says
// the primary is down it fails over; on its schedule it retries fences that
// have not landed. Wiring only: the logic is internal/failover.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/region"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", "failovercontroller")
	env, err := config.LoadFunctionEnv(os.Getenv)
	if err != nil {
		log.Error("bad environment", "err", err)
		os.Exit(1)
	}
	names := env.Names()
	clients := map[string]*region.Clients{}
	stores := map[string]*control.Store{}
	for _, r := range []string{env.Region, env.Peer, env.Witness} {
		if r == "" {
			continue
		}
		c, err := region.New(env.Spec(r, 1))
		if err != nil {
			log.Error("clients", "err", err)
			os.Exit(1)
		}
		clients[r], stores[r] = c, control.New(c, names)
	}
	c := &failover.Controller{
		Stores: stores, Witness: env.Witness, Lease: env.Lease, Now: env.Now(),
		Probe:    failover.RegionProber{Clients: clients, Names: names},
		Verifier: failover.WriteVerifier(clients, names), MinDwell: env.MinDwell,
		FenceTimeout: time.Second, AgreementWait: 5 * time.Second,
	}
	switch { // manual mode: a person decides, the tick never does
	case env.Manual:
	case env.AlarmURL != "": // the lab's front door
		c.AlarmState = failover.HTTPAlarmState(env.AlarmURL, &http.Client{Timeout: 2 * time.Second})
	case env.AlarmName != "": // AWS
		c.AlarmState = failover.CloudWatchAlarmState(cloudwatch.New(cloudwatch.Options{Region: env.Region, Credentials: env.Spec(env.Region, 0).Credentials}), env.AlarmName)
	}
	switch {
	case env.RoutingURL != "": // the lab's front door
		c.Routing = failover.HTTPRouting{URL: env.RoutingURL, Client: &http.Client{Timeout: 2 * time.Second}}
	case env.RoutingRecord != "": // Route 53 on AWS, beside the witness
		c.Routing = failover.DNSRouting{Record: env.RoutingRecord, DRHost: env.RoutingDRHost}
	}
	switch {
	case env.NotifyFile != "":
		c.Notify = &failover.FileNotifier{Path: env.NotifyFile}
	case env.NotifyTopic != "":
		c.Notify = failover.SNSNotifier{SNS: sns.New(sns.Options{Region: env.Region, Credentials: env.Spec(env.Region, 0).Credentials}), Topic: env.NotifyTopic}
	}
	handler := func(ctx context.Context, payload json.RawMessage) (any, error) {
		inv, err := failover.ParseInvocation(payload)
		if err != nil {
			return nil, err
		}
		switch {
		case inv.Kind == failover.InvokeSchedule || inv.Action == "reconcile":
			tr, err := c.Tick(ctx, env.Region, env.Peer)
			if tr.Action != "" {
				log.Info("tick", "action", tr.Action, "reason", tr.Reason, "err", err)
			}
			return tr, err
		case inv.Kind == failover.InvokeAlarm && inv.AlarmState != "ALARM":
			return map[string]string{"outcome": "ignored", "reason": "alarm state " + inv.AlarmState}, nil
		case inv.Kind == failover.InvokeAlarm && env.Manual:
			e := control.Entry{Phase: control.Detected, At: time.Now().UTC(), From: env.Primary, To: env.Region, Detail: "manual mode: " + inv.Reason + "; run `pilotlight failover` to proceed"}
			if c.Notify != nil {
				_ = c.Notify.Notify(ctx, e)
			}
			return map[string]string{"outcome": "manual", "reason": e.Detail}, nil
		}
		res, err := c.Run(ctx, failover.Request{From: env.Peer, To: env.Region, Reason: inv.Reason, Force: inv.Force})
		log.Info("failover", "outcome", res.Outcome, "epoch", res.Epoch, "err", err)
		return res, err
	}
	lambda.StartWithOptions(handler, lambda.WithEnableSIGTERM(func() { log.Info("shutting down") }))
}
