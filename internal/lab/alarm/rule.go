package alarm

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
	"github.com/pilotlight/pilotlight/internal/metrics"
)

// Alarm states, as CloudWatch names them.
const (
	StateOK           = "OK"
	StateAlarm        = "ALARM"
	StateInsufficient = "INSUFFICIENT_DATA"
)

// Rule evaluates one alarm of the templates over datapoints the way
// CloudWatch does: each of the last EvaluationPeriods whole periods gets
// the statistic of the datapoints whose name and dimensions match exactly
// (metric math: MAX over its metrics' values), a period with no value is
// treated as TreatMissingData says, and DatapointsToAlarm breaching periods
// make ALARM. It is what shows that an alarm can fire at all: a metric name,
// a dimension or a statistic that no function emits leaves it without data.
type Rule struct {
	Alarm   cfn.Alarm
	sources []cfn.AlarmMetric // the metrics whose values the alarm compares
	period  time.Duration
}

var maxExpr = regexp.MustCompile(`^MAX\(\[([a-zA-Z0-9_,\s]+)\]\)$`)

// NewRule checks that the alarm uses only what Rule evaluates — Minimum,
// Maximum, SampleCount, Sum and Average, the four comparisons, and metric
// math of the form MAX([id, ...]) over metrics of one period.
func NewRule(a cfn.Alarm) (*Rule, error) {
	r := &Rule{Alarm: a}
	switch a.Comparison {
	case "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold":
	default:
		return nil, fmt.Errorf("alarm %s: comparison %q is not evaluated in the lab", a.LogicalID, a.Comparison)
	}
	byID := map[string]cfn.AlarmMetric{}
	var returned []cfn.AlarmMetric
	for _, m := range a.Metrics {
		byID[m.ID] = m
		if m.ReturnData {
			returned = append(returned, m)
		}
	}
	if len(returned) != 1 {
		return nil, fmt.Errorf("alarm %s: %d metrics return data, want 1", a.LogicalID, len(returned))
	}
	if e := returned[0].Expression; e != "" {
		sub := maxExpr.FindStringSubmatch(strings.TrimSpace(e))
		if sub == nil {
			return nil, fmt.Errorf("alarm %s: expression %q is not evaluated in the lab (MAX([id, ...]) is)", a.LogicalID, e)
		}
		for _, id := range strings.Split(sub[1], ",") {
			m, ok := byID[strings.TrimSpace(id)]
			if !ok || m.Expression != "" {
				return nil, fmt.Errorf("alarm %s: expression %q names %q, which is not a metric of the alarm", a.LogicalID, e, strings.TrimSpace(id))
			}
			r.sources = append(r.sources, m)
		}
	} else {
		r.sources = returned
	}
	for _, m := range r.sources {
		switch m.Stat {
		case "Minimum", "Maximum", "SampleCount", "Sum", "Average":
		default:
			return nil, fmt.Errorf("alarm %s: statistic %q is not evaluated in the lab", a.LogicalID, m.Stat)
		}
		if m.Period <= 0 || (r.period != 0 && time.Duration(m.Period)*time.Second != r.period) {
			return nil, fmt.Errorf("alarm %s: metrics of different or no periods", a.LogicalID)
		}
		r.period = time.Duration(m.Period) * time.Second
	}
	if a.EvaluationPeriods < 1 || a.DatapointsToAlarm < 1 || a.DatapointsToAlarm > a.EvaluationPeriods {
		return nil, fmt.Errorf("alarm %s: %d of %d datapoints to alarm", a.LogicalID, a.DatapointsToAlarm, a.EvaluationPeriods)
	}
	return r, nil
}

// Period is the alarm's period.
func (r *Rule) Period() time.Duration { return r.period }

// Evaluate returns the alarm's state over the EvaluationPeriods whole
// periods that end at or before now.
func (r *Rule) Evaluate(points []metrics.Datapoint, now time.Time) string {
	n := r.Alarm.EvaluationPeriods
	end := now.Truncate(r.period)
	start := end.Add(-time.Duration(n) * r.period)
	// values[period][source]: the contributions of each source metric.
	values := make([][][]float64, n)
	for i := range values {
		values[i] = make([][]float64, len(r.sources))
	}
	for _, p := range points {
		if p.Time.Before(start) || !p.Time.Before(end) {
			continue
		}
		i := int(p.Time.Sub(start) / r.period)
		for j, m := range r.sources {
			if m.Namespace == metrics.Namespace && m.Name == p.Name && maps.Equal(m.Dims, p.Dims) {
				v := p.Value
				if m.Stat == "SampleCount" {
					v = 1
				}
				values[i][j] = append(values[i][j], v)
			}
		}
	}
	breaching, present := 0, 0
	for _, perSource := range values {
		// Metric math: MAX over the sources that have a value; a single
		// metric is the one source.
		var v float64
		have := false
		for _, vs := range perSource {
			if len(vs) == 0 {
				continue
			}
			if x := r.combine(vs); !have || x > v {
				v = x
			}
			have = true
		}
		if !have {
			if r.Alarm.TreatMissingData == "breaching" {
				breaching++
			}
			continue
		}
		present++
		if r.breaches(v) {
			breaching++
		}
	}
	switch {
	case breaching >= r.Alarm.DatapointsToAlarm:
		return StateAlarm
	case present == 0 && (r.Alarm.TreatMissingData == "missing" || r.Alarm.TreatMissingData == "ignore"):
		return StateInsufficient
	}
	return StateOK
}

// combine is one metric's statistic over a period's contributions.
func (r *Rule) combine(vs []float64) float64 {
	stat := r.sources[0].Stat
	out := vs[0]
	sum := 0.0
	for _, v := range vs {
		sum += v
		switch stat {
		case "Minimum":
			out = min(out, v)
		case "Maximum":
			out = max(out, v)
		}
	}
	switch stat {
	case "SampleCount", "Sum":
		return sum
	case "Average":
		return sum / float64(len(vs))
	}
	return out
}

func (r *Rule) breaches(v float64) bool {
	t := r.Alarm.Threshold
	switch r.Alarm.Comparison {
	case "GreaterThanThreshold":
		return v > t
	case "GreaterThanOrEqualToThreshold":
		return v >= t
	case "LessThanThreshold":
		return v < t
	}
	return v <= t
}
