package deploy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/cloudformation"
	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/monitoring"
)

// shippedTemplates parses the four templates the binary embeds.
func shippedTemplates(t *testing.T) []*cfn.Template {
	t.Helper()
	var out []*cfn.Template
	for name, body := range map[string][]byte{"dr-region.yaml": cloudformation.DR, "primary-region.yaml": cloudformation.Primary,
		"global-resources.yaml": cloudformation.Global, "witness-region.yaml": cloudformation.Witness} {
		tpl, err := cfn.Parse(name, body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tpl)
	}
	return out
}

// The dashboard deploy passes to the DR stack is valid JSON, fits a
// CloudFormation parameter (4,096 bytes), has no placeholder left, and
// names only metrics pilotlight emits.
func TestDashboard(t *testing.T) {
	body := compactJSON(monitoring.Dashboard(map[string]string{"Region": "us-west-2", "PrimaryRegion": "us-east-1", "Table": "pilotlight-orders", "AccountId": "123456789012", "AlarmName": "pilotlight-primary-unhealthy"}))
	if len(body) > 4096 {
		t.Fatalf("dashboard is %d bytes: more than a parameter holds", len(body))
	}
	if strings.Contains(body, "${") {
		t.Fatalf("placeholder left: %s", body)
	}
	var d struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || len(d.Widgets) == 0 {
		t.Fatalf("not a dashboard: %v", err)
	}
	// Every metric the functions emit is charted, and nothing else.
	known := map[string]bool{metrics.RegionHealthy: true, metrics.ProbeLatencyMs: true, metrics.ReplicationLagMs: true, metrics.ValidatorMissingInDR: true,
		metrics.ValidatorMissingInPrimary: true, metrics.ValidatorDivergent: true, metrics.ValidatorObjectsDiffering: true,
		metrics.LeaseRenewed: true, metrics.BackupItems: true, metrics.RestoreTestOK: true, metrics.ClockOffsetMs: true}
	charted := map[string]bool{}
	for _, w := range d.Widgets {
		for _, m := range w.Properties.Metrics {
			if first, _ := m[0].(string); first == "..." {
				continue // the row above's metric, another dimension value
			}
			name, _ := m[1].(string)
			if !known[name] {
				t.Errorf("dashboard metric %q is not one pilotlight emits", name)
			}
			charted[name] = true
		}
	}
	for name := range known {
		if !charted[name] {
			t.Errorf("the dashboard does not chart %s", name)
		}
	}
}

// Every alarm on a pilotlight metric names one the functions emit, with
// the dimension names its emitter writes (an alarm on a metric nobody
// emits sits in INSUFFICIENT_DATA, or alarms for ever on missing data).
func TestAlarmsWatchEmittedMetrics(t *testing.T) {
	emitted := map[string][]string{
		metrics.RegionHealthy: {"Region", "Target"}, metrics.ReplicationLagMs: {"Region", "Source"},
		metrics.ValidatorDivergent: {"DR", "Primary", "Table"}, metrics.ValidatorMissingInDR: {"DR", "Primary", "Table"},
		metrics.ValidatorMissingInPrimary: {"DR", "Primary", "Table"}, metrics.ValidatorObjectsDiffering: {"DR", "Primary", "Table"},
		metrics.LeaseRenewed: {"Region"},
		metrics.BackupItems:  {"Region", "Table"}, metrics.RestoreTestOK: {"Region", "Table"}, metrics.ClockOffsetMs: {"Region"},
	}
	seen := map[string]bool{}
	for _, tpl := range shippedTemplates(t) {
		for id, r := range tpl.Resources {
			props, _ := r["Properties"].(map[string]any)
			if r["Type"] != "AWS::CloudWatch::Alarm" {
				continue
			}
			// A metric-math alarm watches each of its MetricStats.
			watched := []map[string]any{props}
			if ms, ok := props["Metrics"].([]any); ok {
				watched = nil
				for _, m := range ms {
					stat, _ := m.(map[string]any)["MetricStat"].(map[string]any)
					if metric, ok := stat["Metric"].(map[string]any); ok {
						watched = append(watched, metric)
					}
				}
			}
			for _, props := range watched {
				if props["Namespace"] != metrics.Namespace {
					continue
				}
				name, _ := props["MetricName"].(string)
				want, ok := emitted[name]
				if !ok {
					t.Errorf("%s: %s watches %q, which no function emits", tpl.Name, id, name)
					continue
				}
				seen[name] = true
				var got []string
				dims, _ := props["Dimensions"].([]any)
				for _, d := range dims {
					if m, ok := d.(map[string]any); ok {
						got = append(got, fmt.Sprint(m["Name"]))
					}
				}
				sort.Strings(got)
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s: %s: dimensions %v, but %s is emitted with %v", tpl.Name, id, got, name, want)
				}
			}
		}
	}
	// Every finding is alarmed on, not only some: a missing item is lost
	// data too. (At aa72caa only ValidatorDivergent was.)
	for _, m := range []string{metrics.LeaseRenewed, metrics.BackupItems, metrics.RestoreTestOK, metrics.ReplicationLagMs, metrics.ValidatorDivergent,
		metrics.ValidatorMissingInDR, metrics.ValidatorMissingInPrimary, metrics.ValidatorObjectsDiffering, metrics.ClockOffsetMs} {
		if !seen[m] {
			t.Errorf("no alarm watches %s", m)
		}
	}
}
