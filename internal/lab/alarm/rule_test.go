package alarm

import (
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
	"github.com/pilotlight/pilotlight/internal/metrics"
)

func TestRuleEvaluate(t *testing.T) {
	dims := map[string]string{"Region": "us-west-2"}
	one := func(stat, missing string, n, m int) cfn.Alarm {
		return cfn.Alarm{LogicalID: "A", Threshold: 1, Comparison: "LessThanThreshold", EvaluationPeriods: n, DatapointsToAlarm: m, TreatMissingData: missing,
			Metrics: []cfn.AlarmMetric{{ID: "m", Namespace: metrics.Namespace, Name: "X", Dims: dims, Stat: stat, Period: 60, ReturnData: true}}}
	}
	base := time.Unix(600000, 0)
	at := func(period int, v float64) metrics.Datapoint {
		return metrics.Datapoint{Name: "X", Dims: dims, Value: v, Time: base.Add(time.Duration(period)*time.Minute + time.Second)}
	}
	now := base.Add(3 * time.Minute)
	tests := []struct {
		name   string
		alarm  cfn.Alarm
		points []metrics.Datapoint
		want   string
	}{
		{"all breaching", one("Minimum", "missing", 3, 3), []metrics.Datapoint{at(0, 0), at(1, 0), at(2, 1), at(2, 0)}, StateAlarm},
		{"one period good", one("Minimum", "missing", 3, 3), []metrics.Datapoint{at(0, 0), at(1, 1), at(2, 0)}, StateOK},
		{"2 of 3", one("Minimum", "notBreaching", 3, 2), []metrics.Datapoint{at(0, 0), at(2, 0)}, StateAlarm},
		{"no data, missing", one("Minimum", "missing", 3, 3), nil, StateInsufficient},
		{"no data, notBreaching", one("Minimum", "notBreaching", 3, 2), nil, StateOK},
		{"no data, breaching", one("SampleCount", "breaching", 1, 1), nil, StateAlarm},
		{"samples, breaching", one("SampleCount", "breaching", 1, 1), []metrics.Datapoint{at(2, 5)}, StateOK},
		{"other dimensions are another metric", one("Minimum", "missing", 1, 1),
			[]metrics.Datapoint{{Name: "X", Dims: map[string]string{"Region": "us-east-1"}, Value: 0, Time: base.Add(2*time.Minute + time.Second)}}, StateInsufficient},
		{"the period in progress does not count", one("Minimum", "missing", 1, 1), []metrics.Datapoint{at(3, 0)}, StateInsufficient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRule(tt.alarm)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Evaluate(tt.points, now); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	// Metric math: MAX over two metrics, each its own statistic.
	mm := cfn.Alarm{LogicalID: "M", Threshold: 0, Comparison: "GreaterThanThreshold", EvaluationPeriods: 1, DatapointsToAlarm: 1, TreatMissingData: "notBreaching",
		Metrics: []cfn.AlarmMetric{{ID: "f", Expression: "MAX([a, b])", ReturnData: true},
			{ID: "a", Namespace: metrics.Namespace, Name: "A", Dims: dims, Stat: "Maximum", Period: 60},
			{ID: "b", Namespace: metrics.Namespace, Name: "B", Dims: dims, Stat: "Maximum", Period: 60}}}
	r, err := NewRule(mm)
	if err != nil {
		t.Fatal(err)
	}
	pt := func(name string, v float64) metrics.Datapoint {
		return metrics.Datapoint{Name: name, Dims: dims, Value: v, Time: base.Add(2*time.Minute + time.Second)}
	}
	if got := r.Evaluate([]metrics.Datapoint{pt("A", 0), pt("B", 2)}, now); got != StateAlarm {
		t.Fatalf("MAX(0, 2) > 0: %s", got)
	}
	if got := r.Evaluate([]metrics.Datapoint{pt("A", 0), pt("B", 0)}, now); got != StateOK {
		t.Fatalf("MAX(0, 0) > 0: %s", got)
	}
}

func TestNewRuleRefusesWhatItCannotEvaluate(t *testing.T) {
	m := cfn.AlarmMetric{ID: "m", Namespace: metrics.Namespace, Name: "X", Stat: "p99", Period: 60, ReturnData: true}
	for name, a := range map[string]cfn.Alarm{
		"percentile": {LogicalID: "A", Comparison: "LessThanThreshold", EvaluationPeriods: 1, DatapointsToAlarm: 1, Metrics: []cfn.AlarmMetric{m}},
		"anomaly band": {LogicalID: "A", Comparison: "LessThanLowerThreshold", EvaluationPeriods: 1, DatapointsToAlarm: 1,
			Metrics: []cfn.AlarmMetric{{ID: "m", Namespace: metrics.Namespace, Name: "X", Stat: "Minimum", Period: 60, ReturnData: true}}},
		"other math": {LogicalID: "A", Comparison: "GreaterThanThreshold", EvaluationPeriods: 1, DatapointsToAlarm: 1,
			Metrics: []cfn.AlarmMetric{{ID: "f", Expression: "SUM([m])", ReturnData: true}, {ID: "m", Namespace: metrics.Namespace, Name: "X", Stat: "Minimum", Period: 60}}},
		"3 of 2": {LogicalID: "A", Comparison: "LessThanThreshold", EvaluationPeriods: 2, DatapointsToAlarm: 3,
			Metrics: []cfn.AlarmMetric{{ID: "m", Namespace: metrics.Namespace, Name: "X", Stat: "Minimum", Period: 60, ReturnData: true}}},
	} {
		if _, err := NewRule(a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
