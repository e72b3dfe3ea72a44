package cfn

import (
	"fmt"
	"sort"
	"strconv"
)

// Alarm is a CloudWatch alarm as a template defines it, resolved.
type Alarm struct {
	LogicalID string
	Name      string
	// Metrics are the alarm's metrics: one (ID "m", returned) for an alarm
	// on a single metric; for metric math, each MetricStat and the
	// expression that is returned.
	Metrics           []AlarmMetric
	Threshold         float64
	Comparison        string // e.g. LessThanThreshold
	EvaluationPeriods int
	DatapointsToAlarm int    // EvaluationPeriods when the template leaves it out
	TreatMissingData  string // missing (the default), notBreaching, breaching, ignore
}

// AlarmMetric is one entry of an alarm's metrics: a metric and its
// statistic, or an expression over the other entries' IDs.
type AlarmMetric struct {
	ID         string
	Namespace  string
	Name       string
	Dims       map[string]string
	Stat       string // Minimum, Maximum, SampleCount, Sum, Average
	Period     int    // seconds
	Expression string
	ReturnData bool
}

// Alarms returns the template's CloudWatch alarms (those whose condition
// holds), sorted by logical ID.
func (r *Resolver) Alarms() ([]Alarm, error) {
	var out []Alarm
	for _, id := range r.sortedOfType("AWS::CloudWatch::Alarm") {
		props, _ := r.T.Resources[id]["Properties"].(map[string]any)
		v, err := r.Value(props)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.T.Name, id, err)
		}
		a, err := alarmOf(id, v.(map[string]any))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.T.Name, id, err)
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out, nil
}

func alarmOf(id string, p map[string]any) (Alarm, error) {
	a := Alarm{LogicalID: id, TreatMissingData: "missing"}
	a.Name, _ = p["AlarmName"].(string)
	a.Comparison, _ = p["ComparisonOperator"].(string)
	if s, ok := p["TreatMissingData"].(string); ok {
		a.TreatMissingData = s
	}
	var err error
	if a.Threshold, err = number(p["Threshold"]); err != nil {
		return a, fmt.Errorf("Threshold: %w", err)
	}
	n, err := number(p["EvaluationPeriods"])
	if err != nil {
		return a, fmt.Errorf("EvaluationPeriods: %w", err)
	}
	a.EvaluationPeriods, a.DatapointsToAlarm = int(n), int(n)
	if p["DatapointsToAlarm"] != nil {
		m, err := number(p["DatapointsToAlarm"])
		if err != nil {
			return a, fmt.Errorf("DatapointsToAlarm: %w", err)
		}
		a.DatapointsToAlarm = int(m)
	}
	if ms, ok := p["Metrics"].([]any); ok {
		for _, e := range ms {
			em, _ := e.(map[string]any)
			m := AlarmMetric{ReturnData: true}
			m.ID, _ = em["Id"].(string)
			m.Expression, _ = em["Expression"].(string)
			if rd, ok := em["ReturnData"].(bool); ok {
				m.ReturnData = rd
			}
			if st, ok := em["MetricStat"].(map[string]any); ok {
				mm, _ := st["Metric"].(map[string]any)
				if err := metricOf(&m, mm["Namespace"], mm["MetricName"], mm["Dimensions"], st["Stat"], st["Period"]); err != nil {
					return a, fmt.Errorf("Metrics %s: %w", m.ID, err)
				}
			}
			a.Metrics = append(a.Metrics, m)
		}
		return a, nil
	}
	m := AlarmMetric{ID: "m", ReturnData: true}
	if err := metricOf(&m, p["Namespace"], p["MetricName"], p["Dimensions"], p["Statistic"], p["Period"]); err != nil {
		return a, err
	}
	a.Metrics = []AlarmMetric{m}
	return a, nil
}

func metricOf(m *AlarmMetric, ns, name, dims, stat, period any) error {
	m.Namespace, _ = ns.(string)
	m.Name, _ = name.(string)
	m.Stat, _ = stat.(string)
	if m.Name == "" || m.Stat == "" {
		return fmt.Errorf("a metric needs MetricName and a statistic")
	}
	p, err := number(period)
	if err != nil {
		return fmt.Errorf("Period: %w", err)
	}
	m.Period = int(p)
	m.Dims = map[string]string{}
	ds, _ := dims.([]any)
	for _, d := range ds {
		dm, _ := d.(map[string]any)
		k, _ := dm["Name"].(string)
		v, _ := dm["Value"].(string)
		m.Dims[k] = v
	}
	return nil
}

// number is a resolved numeric property: a YAML number, or the string a
// parameter resolves to.
func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}
