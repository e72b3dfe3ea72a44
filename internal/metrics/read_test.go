package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/pilotlight/pilotlight/internal/awstest"
)

// Latest reads the newest datapoint of the right metric and dimensions
// (against moto_server), and nil when there is none.
func TestLatestAgainstCloudWatch(t *testing.T) {
	url := awstest.Moto(t)
	ctx := context.Background()
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-west-2", BaseEndpoint: aws.String(url), Credentials: awstest.Credentials})
	now := time.Now().UTC().Truncate(time.Second)
	put := func(name string, dims map[string]string, v float64, at time.Time) {
		t.Helper()
		d := []cwtypes.Dimension{}
		for k, val := range dims {
			d = append(d, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(val)})
		}
		if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(Namespace), MetricData: []cwtypes.MetricDatum{
			{MetricName: aws.String(name), Dimensions: d, Value: aws.Float64(v), Timestamp: aws.Time(at)}}}); err != nil {
			t.Fatal(err)
		}
	}
	dims := map[string]string{"Region": "us-west-2", "Source": "us-east-1"}
	put(ReplicationLagMs, dims, 900, now.Add(-3*time.Minute))
	put(ReplicationLagMs, dims, 120, now.Add(-1*time.Minute))
	put(ReplicationLagMs, map[string]string{"Region": "us-west-2", "Source": "eu-west-1"}, 99999, now.Add(-30*time.Second))
	r, err := Latest(ctx, cw, ReplicationLagMs, dims, cwtypes.StatisticMaximum, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	if r == nil || r.Value != 120 {
		t.Fatalf("latest lag = %+v, want the newest datapoint of these dimensions, 120", r)
	}
	r, err = Latest(ctx, cw, RegionHealthy, map[string]string{"Region": "us-west-2", "Target": "us-east-1"}, cwtypes.StatisticMinimum, 10*time.Minute, now)
	if err != nil || r != nil {
		t.Fatalf("a metric nobody emitted: %+v, %v", r, err)
	}
}
