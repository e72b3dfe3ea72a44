package metrics

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestWriteParseRoundTrip(t *testing.T) {
	var b bytes.Buffer
	at := time.UnixMilli(1795681369611)
	dims := map[string]string{"Region": "us-west-2", "Target": "us-east-1"}
	if err := Write(&b, Namespace, at, dims, Datapoint{Name: RegionHealthy, Value: 0}, Datapoint{Name: ProbeLatencyMs, Unit: "Milliseconds", Value: 12.5}); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(bytes.TrimSpace(b.Bytes()), Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != RegionHealthy || got[0].Value != 0 || got[1].Value != 12.5 || got[1].Unit != "Milliseconds" {
		t.Fatalf("got %+v", got)
	}
	if !got[0].Time.Equal(at) || got[0].Dims["Target"] != "us-east-1" || got[0].Dims["Region"] != "us-west-2" {
		t.Fatalf("time/dims: %+v", got[0])
	}
	if other, _ := Parse(bytes.TrimSpace(b.Bytes()), "Other"); len(other) != 0 {
		t.Errorf("other namespace returned %v", other)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, line string
		notEMF     bool
	}{
		{"plain log", "START RequestId: 1", true},
		{"json without _aws", `{"level":"info"}`, true},
		{"no timestamp", `{"_aws":{"CloudWatchMetrics":[]}}`, false},
		{"missing value", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Pilotlight","Dimensions":[[]],"Metrics":[{"Name":"X"}]}]}}`, false},
		{"missing dim", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Pilotlight","Dimensions":[["Region"]],"Metrics":[{"Name":"X"}]}]},"X":1}`, false},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.line), Namespace)
		if err == nil || errors.Is(err, ErrNotEMF) != tt.notEMF {
			t.Errorf("%s: err = %v, want notEMF=%v", tt.name, err, tt.notEMF)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Pilotlight","Dimensions":[["Region"]],"Metrics":[{"Name":"X"}]}]},"X":1,"Region":"r"}`))
	f.Add([]byte(`{"_aws":{}}`))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, line []byte) {
		points, err := Parse(line, Namespace)
		if err != nil && len(points) > 0 {
			t.Fatal("points with an error")
		}
		for _, p := range points {
			if p.Value != p.Value {
				t.Fatal("NaN value accepted")
			}
			if p.Time.IsZero() {
				t.Fatal("datapoint without a time")
			}
		}
	})
}
