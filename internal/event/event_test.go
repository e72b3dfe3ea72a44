package event

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		event, req    bool
		err           string
	}{
		{"empty", "", false, false, ""},
		{"null", " null ", false, false, ""},
		{"empty object", "{}", false, false, ""},
		{"scheduled", `{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, true, false, ""},
		{"request", `{"action":"create"}`, false, true, ""},
		{"array", `[1]`, false, false, "not a JSON object"},
		{"text", `create`, false, false, "not a JSON object"},
		{"event of the wrong shape", `{"detail-type":7}`, false, false, "does not read"},
	} {
		p, err := Decode([]byte(tc.payload))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || (p.Event != nil) != tc.event || (p.Request != nil) != tc.req {
			t.Errorf("%s: %+v, %v", tc.name, p, err)
		}
	}
}

func TestStrictRefusesTypos(t *testing.T) {
	var v struct{ Action string }
	if err := Strict([]byte(`{"Action":"a","actoin":"b"}`), &v); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("a typo: %v", err)
	}
	if err := Strict([]byte(`{"Action":"a"} {"Action":"b"}`), &v); err == nil {
		t.Fatal("two values were taken as one")
	}
}

func TestAlarm(t *testing.T) {
	p, _ := Decode([]byte(`{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"ALARM","reason":"r"}}}`))
	a, err := p.Event.Alarm()
	if err != nil || a != (Alarm{Name: "a", State: "ALARM", Reason: "r"}) {
		t.Fatalf("%+v, %v", a, err)
	}
	p, _ = Decode([]byte(`{"detail-type":"Scheduled Event"}`))
	if _, err := p.Event.Alarm(); err == nil {
		t.Fatal("a scheduled event read as an alarm")
	}
}

// FuzzDecode: any payload decodes to exactly one of empty, event or
// request, or to an error, without a panic; an event's alarm reading never
// panics either, and a request is always a JSON object.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"OK"}}}`))
	f.Add([]byte(`{"detail-type":"Scheduled Event"}`))
	f.Add([]byte(`{"action":"verify","snapshot":"x"}`))
	f.Add([]byte(`{"detail":null,"detail-type":null}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := Decode(payload)
		if err != nil {
			return
		}
		if p.Event != nil && p.Request != nil {
			t.Fatal("both an event and a request")
		}
		if p.Event != nil {
			_, _ = p.Event.Alarm()
		}
		if p.Request != nil && p.Request[0] != '{' {
			t.Fatalf("request %q is not an object", p.Request)
		}
	})
}
