package failover

import (
	"os"
	"strings"
	"testing"
)

func TestParseInvocation(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		payload []byte
		kind    InvocationKind
		wantErr string
	}{
		{"alarm", read("alarm.json"), InvokeAlarm, ""},
		{"scheduled", read("scheduled.json"), InvokeSchedule, ""},
		{"manual", []byte(`{"action":"Failover","force":true}`), InvokeManual, ""},
		{"empty", nil, "", "empty payload"},
		{"manual with a typo", []byte(`{"action":"failover","froce":true}`), "", "unknown field"},
		{"not json", []byte(`nope`), "", "not a JSON object"},
		{"unknown action", []byte(`{"action":"explode"}`), "", "unknown action"},
		{"bad state", []byte(`{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"RED"}}}`), "", "not ALARM"},
		{"no alarm name", []byte(`{"detail-type":"CloudWatch Alarm State Change","detail":{"state":{"value":"ALARM"}}}`), "", "alarmName is empty"},
		{"other event", []byte(`{"detail-type":"EC2 Instance State-change Notification"}`), "", "unrecognised payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseInvocation(tt.payload)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || inv.Kind != tt.kind {
				t.Fatalf("got %+v, %v; want kind %s", inv, err, tt.kind)
			}
		})
	}
	inv, _ := ParseInvocation(read("alarm.json"))
	if inv.AlarmState != "ALARM" || inv.AlarmName != "pilotlight-primary-unhealthy" {
		t.Errorf("alarm fields: %+v", inv)
	}
}

func FuzzParseInvocation(f *testing.F) {
	f.Add([]byte(`{"detail-type":"Scheduled Event"}`))
	f.Add([]byte(`{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"ALARM","reason":"r"}}}`))
	f.Add([]byte(`{"action":"reconcile"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		inv, err := ParseInvocation(payload)
		if err == nil && inv.Kind == "" {
			t.Fatalf("accepted %q without a kind", payload)
		}
	})
}
