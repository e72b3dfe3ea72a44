package failover

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
	var ev struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
		Action     string          `json:"action"`
		Force      bool            `json:"force"`
		Reason     string          `json:"reason"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return Invocation{}, fmt.Errorf("payload is not a JSON object: %v (send an EventBridge event or {\"action\":\"failover\"})", err)
	}
	switch {
	case ev.DetailType == "CloudWatch Alarm State Change":
		var d struct {
			AlarmName string `json:"alarmName"`
			State     struct {
				Value  string `json:"value"`
				Reason string `json:"reason"`
			} `json:"state"`
		}
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return Invocation{}, fmt.Errorf("alarm event detail: %v", err)
		}
		switch d.State.Value {
		case "ALARM", "OK", "INSUFFICIENT_DATA":
		default:
			return Invocation{}, fmt.Errorf("alarm event: state %q is not ALARM, OK or INSUFFICIENT_DATA", d.State.Value)
		}
		if d.AlarmName == "" {
			return Invocation{}, errors.New("alarm event: detail.alarmName is empty")
		}
		return Invocation{Kind: InvokeAlarm, AlarmName: d.AlarmName, AlarmState: d.State.Value, Reason: "alarm " + d.AlarmName + ": " + d.State.Reason}, nil
	case ev.DetailType == "Scheduled Event":
		return Invocation{Kind: InvokeSchedule}, nil
	case ev.Action != "":
		switch strings.ToLower(ev.Action) {
		case "failover", "reconcile":
			return Invocation{Kind: InvokeManual, Action: strings.ToLower(ev.Action), Force: ev.Force, Reason: ev.Reason}, nil
		}
		return Invocation{}, fmt.Errorf("unknown action %q: use failover or reconcile", ev.Action)
	}
	return Invocation{}, fmt.Errorf("unrecognised payload (detail-type %q): expected a CloudWatch Alarm State Change, a Scheduled Event, or {\"action\":\"failover\"}", ev.DetailType)
}

// AlarmEvent builds the EventBridge event CloudWatch sends when an alarm
// changes state; the lab's alarm evaluator sends exactly this.
func AlarmEvent(alarmName, region, state, reason string, at string) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": "lab-" + at, "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
		"account": "000000000000", "time": at, "region": region, "resources": []string{"arn:aws:cloudwatch:" + region + ":000000000000:alarm:" + alarmName},
		"detail": map[string]any{"alarmName": alarmName, "state": map[string]any{"value": state, "reason": reason, "timestamp": at}},
	})
	return b
}

// ScheduledEvent builds an EventBridge scheduled event.
func ScheduledEvent(region, at string) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "lab-" + at, "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "000000000000", "time": at, "region": region, "resources": []string{}, "detail": map[string]any{}})
	return b
}
