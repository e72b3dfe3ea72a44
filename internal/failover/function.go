package failover

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

// Function is what the failover-controller function does with each
// invocation, in the DR region: on the detection alarm's ALARM it fails
// over from the peer (or, in manual mode, only announces that a person
// should); on its schedule, or when asked to reconcile, it ticks (retries
// fences that have not landed, finishes or rolls back an unfinished run).
type Function struct {
	Controller *Controller
	// Region is where the function runs (the failover target); Peer the
	// region it fails over from; Primary the primary's name for notices.
	Region, Peer, Primary string
	// Manual: an alarm only notifies; `pilotlight failover` proceeds.
	Manual bool
	Log    *slog.Logger
}

// Handle runs one invocation (an EventBridge alarm or schedule event, or a
// manual request; see ParseInvocation).
func (f Function) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	inv, err := ParseInvocation(payload)
	if err != nil {
		return nil, err
	}
	switch {
	case inv.Kind == InvokeSchedule || inv.Action == "reconcile":
		tr, err := f.Controller.Tick(ctx, f.Region, f.Peer)
		if tr.Action != "" {
			f.Log.Info("tick", "action", tr.Action, "reason", tr.Reason, "err", err)
		}
		return tr, err
	case inv.Kind == InvokeAlarm && inv.AlarmState != "ALARM":
		return map[string]string{"outcome": "ignored", "reason": "alarm state " + inv.AlarmState}, nil
	case inv.Kind == InvokeAlarm && f.Manual:
		e := record.Entry{Phase: record.Detected, At: time.Now().UTC(), From: f.Primary, To: f.Region, Detail: "manual mode: " + inv.Reason + "; run `pilotlight failover` to proceed"}
		f.Controller.Notify(ctx, e)
		return map[string]string{"outcome": "manual", "reason": e.Detail}, nil
	}
	res, err := f.Controller.Run(ctx, Request{From: f.Peer, To: f.Region, Reason: inv.Reason, Force: inv.Force})
	f.Log.Info("failover", "outcome", res.Outcome, "epoch", res.Epoch, "err", err)
	return res, err
}
