package failover

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/internal/event"
)

// InvocationKind says why the controller was invoked.
type InvocationKind string

const (
	// InvokeAlarm: a CloudWatch alarm changed state (EventBridge event).
	InvokeAlarm InvocationKind = "alarm"
	// InvokeSchedule: the periodic schedule, used to retry pending fences.
	InvokeSchedule InvocationKind = "schedule"
	// InvokeManual: an operator's request {"action": "failover"|"reconcile"}.
	InvokeManual InvocationKind = "manual"
)

// Invocation is a parsed controller payload.
type Invocation struct {
	Kind       InvocationKind
	AlarmName  string
	AlarmState string // ALARM, OK, INSUFFICIENT_DATA
	Action     string // manual: failover or reconcile
	Force      bool
	Reason     string
}

// ParseInvocation reads an EventBridge event (alarm state change or
// scheduled event) or a manual request. Anything else is an error that says
// what was expected.
func ParseInvocation(payload []byte) (Invocation, error) {
	p, err := event.Decode(payload)
	if err != nil {
		return Invocation{}, fmt.Errorf("payload: %v (send an EventBridge event or {\"action\":\"failover\"})", err)
	}
	switch {
	case p.Event != nil && p.Event.DetailType == event.AlarmStateChange:
		a, err := p.Event.Alarm()
		if err != nil {
			return Invocation{}, err
		}
		return Invocation{Kind: InvokeAlarm, AlarmName: a.Name, AlarmState: a.State, Reason: "alarm " + a.Name + ": " + a.Reason}, nil
	case p.Event != nil && p.Event.DetailType == event.Scheduled:
		return Invocation{Kind: InvokeSchedule}, nil
	case p.Event != nil:
		return Invocation{}, fmt.Errorf("unrecognised payload (detail-type %q): expected a CloudWatch Alarm State Change, a Scheduled Event, or {\"action\":\"failover\"}", p.Event.DetailType)
	case p.Request == nil:
		return Invocation{}, errors.New("empty payload: send an EventBridge event or {\"action\":\"failover\"}")
	}
	var req struct {
		Action string `json:"action"`
		Force  bool   `json:"force"`
		Reason string `json:"reason"`
	}
	if err := event.Strict(p.Request, &req); err != nil {
		return Invocation{}, fmt.Errorf("manual request: %v: want {\"action\":\"failover\",\"force\":false,\"reason\":\"…\"}", err)
	}
	switch strings.ToLower(req.Action) {
	case "failover", "reconcile":
		return Invocation{Kind: InvokeManual, Action: strings.ToLower(req.Action), Force: req.Force, Reason: req.Reason}, nil
	case "":
		return Invocation{}, errors.New(`manual request: no action: use {"action":"failover"} or {"action":"reconcile"}`)
	}
	return Invocation{}, fmt.Errorf("unknown action %q: use failover or reconcile", req.Action)
}
