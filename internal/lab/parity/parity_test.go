package parity

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/fnenv"
	"github.com/pilotlight/pilotlight/internal/region"
)

// controllerCheck is the DR region's failover controller as the lab gives
// it its settings (lab.startFunctions, the keys the templates share).
func controllerCheck() fnenv.Check {
	url := func(r string) string { return "http://127.0.0.1:9/_region/" + r }
	return fnenv.Check{Names: region.Names{App: "pilotlight"}, Primary: "us-east-1", DR: "us-west-2", Witness: "us-east-2", AppURL: url,
		Envs: map[string][]string{"us-west-2/failovercontroller": {
			"AWS_REGION=us-west-2", "AWS_LAMBDA_FUNCTION_NAME=pilotlight-failovercontroller", "AWS_LAMBDA_FUNCTION_TIMEOUT=120",
			"PILOTLIGHT_APP_NAME=pilotlight", "PILOTLIGHT_PEER_REGION=us-east-1", "PILOTLIGHT_PRIMARY_REGION=us-east-1",
			"PILOTLIGHT_WITNESS_REGION=us-east-2", "PILOTLIGHT_LEASE_TERM=2s", "PILOTLIGHT_FAILOVER_MODE=auto", "PILOTLIGHT_MIN_DWELL=0s",
			"PILOTLIGHT_ENDPOINTS={}", "PILOTLIGHT_ALARM_URL=http://127.0.0.1:9/_pilotlight/alarm", "PILOTLIGHT_CLOCK_EPSILON=250ms",
		}}}
}

func TestShippedTemplatesMatchTheLab(t *testing.T) {
	if err := Check(controllerCheck()); err != nil {
		t.Fatal(err)
	}
}

// Each broken template copy is caught, naming the function and the
// setting: a variable the lab passes but the template lacks (the class of
// the routing-URL defect: the lab rehearsed a controller AWS never got), a
// value that differs once scaled, a function the template lacks, and a
// lab setting the overrides table does not know.
func TestDriftIsCaught(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(dr []byte) []byte
		labEnv []string
		want   []string
	}{
		{"a variable missing from the template", func(dr []byte) []byte {
			return removeLine(t, dr, "PILOTLIGHT_WITNESS_REGION: !Ref WitnessRegion", "FailoverControllerFunction")
		}, nil, []string{"pilotlight-failovercontroller in us-west-2", "the lab sets PILOTLIGHT_WITNESS_REGION=us-east-2, which the template does not"}},
		{"a value that differs", func(dr []byte) []byte {
			return bytes.Replace(dr, []byte("PILOTLIGHT_LEASE_TERM: !If [Fast, 20s, 60s]"), []byte("PILOTLIGHT_LEASE_TERM: !If [Fast, 30s, 60s]"), -1)
		}, nil, []string{"PILOTLIGHT_LEASE_TERM is 2s in the lab, 3s in the template (scaled by 10)"}},
		{"a function the template lacks", func(dr []byte) []byte {
			return bytes.Replace(dr, []byte(`FunctionName: !Sub "${AppName}-failovercontroller"`), []byte(`FunctionName: !Sub "${AppName}-controller"`), 1)
		}, nil, []string{"the lab runs pilotlight-failovercontroller, which the DR template does not define"}},
		{"a lab setting nobody listed", nil, []string{"PILOTLIGHT_SECRET_SAUCE=1"}, []string{"the lab sets PILOTLIGHT_SECRET_SAUCE=1, which the template does not"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl := Shipped
			if tc.edit != nil {
				tpl.DR = tc.edit(bytes.Clone(Shipped.DR))
			}
			c := controllerCheck()
			c.Envs["us-west-2/failovercontroller"] = append(c.Envs["us-west-2/failovercontroller"], tc.labEnv...)
			err := CheckAgainst(c, tpl)
			if err == nil {
				t.Fatal("no drift found")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// removeLine deletes the first line containing text after the line
// containing after.
func removeLine(t *testing.T, body []byte, text, after string) []byte {
	t.Helper()
	lines := strings.Split(string(body), "\n")
	start := -1
	for i, l := range lines {
		if start < 0 && strings.Contains(l, after) {
			start = i
		}
		if start >= 0 && strings.Contains(l, text) {
			return []byte(strings.Join(append(lines[:i:i], lines[i+1:]...), "\n"))
		}
	}
	t.Fatalf("no line %q after %q", text, after)
	return nil
}

// docs/architecture.md prints the overrides table: every override is in it.
func TestOverridesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range LabOverrides {
		for _, k := range strings.Split(o.Key, ", ") {
			if !strings.Contains(string(doc), "`"+k+"`") {
				t.Errorf("docs/architecture.md does not list the override %s", k)
			}
		}
	}
}

// labSchedule is the lab's scheduler and alarm as lab.startFunctions
// describes them (the default FunctionOptions).
var labSchedule = fnenv.Schedule{HealthInterval: time.Second, ReconcileEvery: time.Second, AlarmPeriod: time.Second, AlarmPeriods: 3, AlarmMissing: "breaching"}

// The lab's scheduler and detection alarm are held to the DR template's
// schedules and alarm, scaled: the shipped ones agree (but for the listed
// overrides), and a template copy whose alarm needs another M of N, another
// period, another statistic or probes at another pace is caught, naming
// the property.
func TestScheduleDriftIsCaught(t *testing.T) {
	c := controllerCheck()
	c.Schedule = labSchedule
	if err := Check(c); err != nil {
		t.Fatalf("shipped templates: %v", err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"      EvaluationPeriods: 3\n      DatapointsToAlarm: 3\n      Threshold: 1\n      ComparisonOperator: LessThanThreshold\n", "      EvaluationPeriods: 5\n      DatapointsToAlarm: 3\n      Threshold: 1\n      ComparisonOperator: LessThanThreshold\n", "PrimaryHealthAlarm.EvaluationPeriods: 3 in the lab, 5"},
		{"      Period: !If [Fast, 10, 60]\n      EvaluationPeriods: 3", "      Period: !If [Fast, 30, 60]\n      EvaluationPeriods: 3", "PrimaryHealthAlarm.Period: 1s in the lab, 3s"},
		{"      MetricName: RegionHealthy\n      Dimensions:\n        - { Name: Region, Value: !Ref AWS::Region }\n        - { Name: Target, Value: !Ref PrimaryRegion }\n      Statistic: Minimum", "      MetricName: RegionHealthy\n      Dimensions:\n        - { Name: Region, Value: !Ref AWS::Region }\n        - { Name: Target, Value: !Ref PrimaryRegion }\n      Statistic: Average", "PrimaryHealthAlarm.Statistic: Minimum in the lab, Average"},
		// the rule that sends the alarm to the controller matches another state
		{"          state:\n            value: [ALARM]", "          state:\n            value: [OK]", "no enabled EventBridge rule matches the ALARM event"},
		// or targets another function
		{"        - { Id: controller, Arn: !GetAtt FailoverControllerFunction.Arn }", "        - { Id: controller, Arn: !GetAtt DataValidatorFunction.Arn }", "targets the failover controller"},
	} {
		dr := bytes.Replace(Shipped.DR, []byte(tc.from), []byte(tc.to), 1)
		if bytes.Equal(dr, Shipped.DR) {
			t.Fatalf("dr-region.yaml has no %q", tc.from)
		}
		err := CheckAgainst(c, Templates{Primary: Shipped.Primary, DR: dr})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v", tc.want, err)
		}
	}
}
