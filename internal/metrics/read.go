package metrics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// StatisticsReader is the CloudWatch call Latest makes.
type StatisticsReader interface {
	GetMetricStatistics(context.Context, *cloudwatch.GetMetricStatisticsInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error)
}

// Reading is one metric's newest datapoint.
type Reading struct {
	Value float64   `json:"value"`
	At    time.Time `json:"at"`
}

// Latest returns the newest one-minute datapoint of a pilotlight metric
// within window (nil when there is none: the emitter is silent, or the
// metric is new), with the statistic stat (Minimum for health, Maximum for
// lag).
func Latest(ctx context.Context, cw StatisticsReader, name string, dims map[string]string, stat cwtypes.Statistic, window time.Duration, now time.Time) (*Reading, error) {
	in := &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String(Namespace), MetricName: aws.String(name),
		StartTime: aws.Time(now.Add(-window)), EndTime: aws.Time(now), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{stat}}
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Dimensions = append(in.Dimensions, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(dims[k])})
	}
	out, err := cw.GetMetricStatistics(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("read %s from CloudWatch: %w", name, err)
	}
	var r *Reading
	for _, p := range out.Datapoints {
		at := aws.ToTime(p.Timestamp)
		if r != nil && !at.After(r.At) {
			continue
		}
		var v *float64
		switch stat {
		case cwtypes.StatisticMinimum:
			v = p.Minimum
		case cwtypes.StatisticMaximum:
			v = p.Maximum
		case cwtypes.StatisticAverage:
			v = p.Average
		case cwtypes.StatisticSum:
			v = p.Sum
		case cwtypes.StatisticSampleCount:
			v = p.SampleCount
		}
		if v != nil {
			r = &Reading{Value: *v, At: at}
		}
	}
	return r, nil
}
