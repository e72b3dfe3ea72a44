// Package event owns the envelope of what invokes a pilotlight function:
// an EventBridge event (a schedule's, or a CloudWatch alarm's change of
// state) or a direct JSON request (the CLI's, an operator's). The
// backup-manager, data-validator and failover-controller functions decode
// their payloads with it, so all three tell events from requests, refuse
// what is not a JSON object, and report a bad payload the same way.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Detail types of the EventBridge events pilotlight's functions take.
const (
	Scheduled        = "Scheduled Event"
	AlarmStateChange = "CloudWatch Alarm State Change"
)

// Payload is a decoded invocation payload: an event, a request, or (both
// nil) an empty payload.
type Payload struct {
	Event   *Event
	Request []byte // the JSON object of a direct request
}

// Event is an EventBridge event's envelope.
type Event struct {
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Region     string          `json:"region"`
	Time       string          `json:"time"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Decode reads a payload. An empty payload, "null" or "{}" is empty; a JSON
// object with a "detail-type" is an event; any other JSON object is a
// request; anything else is an error.
func Decode(payload []byte) (Payload, error) {
	b := bytes.TrimSpace(payload)
	if len(b) == 0 || string(b) == "null" || string(b) == "{}" {
		return Payload{}, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return Payload{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, ok := probe["detail-type"]; !ok {
		return Payload{Request: b}, nil
	}
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return Payload{}, fmt.Errorf("an EventBridge event that does not read: %w", err)
	}
	return Payload{Event: &ev}, nil
}

// Strict decodes a request into v and refuses unknown fields, so a typo is
// an error rather than a default.
func Strict(request []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(request))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// Alarm is the detail of a CloudWatch alarm's change of state.
type Alarm struct {
	Name   string
	State  string // ALARM, OK or INSUFFICIENT_DATA
	Reason string
}

// Alarm reads the event as an alarm's change of state.
func (e *Event) Alarm() (Alarm, error) {
	if e.DetailType != AlarmStateChange {
		return Alarm{}, fmt.Errorf("an EventBridge event of type %q, not %q", e.DetailType, AlarmStateChange)
	}
	var d struct {
		AlarmName string `json:"alarmName"`
		State     struct {
			Value  string `json:"value"`
			Reason string `json:"reason"`
		} `json:"state"`
	}
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return Alarm{}, fmt.Errorf("alarm event detail: %w", err)
	}
	switch d.State.Value {
	case "ALARM", "OK", "INSUFFICIENT_DATA":
	default:
		return Alarm{}, fmt.Errorf("alarm event: state %q is not ALARM, OK or INSUFFICIENT_DATA", d.State.Value)
	}
	if d.AlarmName == "" {
		return Alarm{}, errors.New("alarm event: detail.alarmName is empty")
	}
	return Alarm{Name: d.AlarmName, State: d.State.Value, Reason: d.State.Reason}, nil
}
