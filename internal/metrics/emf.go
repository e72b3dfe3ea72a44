package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/pilotlight/pilotlight/internal/region"
)

// Metric names.
const (
	RegionHealthy    = "RegionHealthy"    // 1 healthy, 0 not; dims Region (observer), Target
	ProbeLatencyMs   = "ProbeLatencyMs"   // dims Region, Target, Probe
	ReplicationLagMs = "ReplicationLagMs" // dims Region (reader), Source

	// The data validator's findings; dims Primary, DR, Table.
	ValidatorMissingInDR      = "ValidatorMissingInDR"
	ValidatorMissingInPrimary = "ValidatorMissingInPrimary"
	ValidatorDivergent        = "ValidatorDivergent"
	ValidatorObjectsDiffering = "ValidatorObjectsDiffering"

	// LeaseRenewed is 1 when the holder's lease renewal was confirmed by a
	// majority, 0 when it was not; dims Region (the holder). Emitted only by
	// the holder.
	LeaseRenewed = "LeaseRenewed"

	// ClockOffsetMs is how far a region's clock is off a time server,
	// either way, in milliseconds; dims Region.
	ClockOffsetMs = "ClockOffsetMs"

	// The backup manager's results; dims Region, Table.
	BackupItems   = "BackupItems"
	RestoreTestOK = "RestoreTestOK" // 1 passed, 0 failed
)

// Namespace is the CloudWatch namespace of every pilotlight metric.
const Namespace = region.MetricNamespace

// Datapoint is one metric value with its dimensions.
type Datapoint struct {
	Name string
	Unit string
	// StorageResolution 1 makes a high-resolution metric (alarms on 10 s
	// periods); 0 is standard (60 s).
	StorageResolution int
	Value             float64
	Dims              map[string]string
	Time              time.Time
}

// Write writes one EMF line holding the datapoints, which must share
// dimension names and values (one line per dimension set).
func Write(w io.Writer, namespace string, t time.Time, dims map[string]string, points ...Datapoint) error {
	if len(points) == 0 {
		return nil
	}
	names := make([]string, 0, len(dims))
	for k := range dims {
		names = append(names, k)
	}
	sort.Strings(names)
	type def struct {
		Name              string `json:"Name"`
		Unit              string `json:"Unit,omitempty"`
		StorageResolution int    `json:"StorageResolution,omitempty"`
	}
	defs := make([]def, len(points))
	doc := map[string]any{}
	for k, v := range dims {
		doc[k] = v
	}
	for i, p := range points {
		defs[i] = def{p.Name, p.Unit, p.StorageResolution}
		doc[p.Name] = p.Value
	}
	doc["_aws"] = map[string]any{
		"Timestamp": t.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  namespace,
			"Dimensions": [][]string{names},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ErrNotEMF means a log line is not an EMF document (most log lines aren't).
var ErrNotEMF = errors.New("not an EMF line")

// Parse reads the datapoints of one EMF line in namespace. Lines that are not
// EMF return ErrNotEMF; malformed EMF returns a descriptive error.
func Parse(line []byte, namespace string) ([]Datapoint, error) {
	if len(line) == 0 || line[0] != '{' {
		return nil, ErrNotEMF
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(line, &doc); err != nil {
		return nil, ErrNotEMF
	}
	rawAWS, ok := doc["_aws"]
	if !ok {
		return nil, ErrNotEMF
	}
	var meta struct {
		Timestamp         *int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	if err := json.Unmarshal(rawAWS, &meta); err != nil {
		return nil, fmt.Errorf("emf _aws: %w", err)
	}
	if meta.Timestamp == nil {
		return nil, errors.New("emf: _aws.Timestamp missing")
	}
	t := time.UnixMilli(*meta.Timestamp)
	var out []Datapoint
	for _, d := range meta.CloudWatchMetrics {
		if d.Namespace != namespace {
			continue
		}
		dims := map[string]string{}
		for _, set := range d.Dimensions {
			for _, name := range set {
				var v string
				if err := json.Unmarshal(doc[name], &v); err != nil {
					return nil, fmt.Errorf("emf: dimension %q has no string value", name)
				}
				dims[name] = v
			}
		}
		for _, m := range d.Metrics {
			var v float64
			if err := json.Unmarshal(doc[m.Name], &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("emf: metric %q has no numeric value", m.Name)
			}
			out = append(out, Datapoint{Name: m.Name, Unit: m.Unit, Value: v, Dims: dims, Time: t})
		}
	}
	return out, nil
}
