package adapters_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/pilotlight/pilotlight/internal/awstest"
	"github.com/pilotlight/pilotlight/internal/failover/adapters"
)

// The scheduled tick reads the detection alarm's state with
// cloudwatch:DescribeAlarms: each state is read as CloudWatch reports it,
// and a missing alarm is an error that says what to do.
func TestCloudWatchAlarmState(t *testing.T) {
	url := awstest.Moto(t)
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-west-2", BaseEndpoint: aws.String(url),
		Credentials: awstest.Credentials})
	ctx := context.Background()
	name := "pilotlight-primary-unhealthy"
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(name), Namespace: aws.String("Pilotlight"),
		MetricName: aws.String("RegionHealthy"), Statistic: cwtypes.StatisticMinimum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(3),
		Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorLessThanThreshold}); err != nil {
		t.Fatal(err)
	}
	state := adapters.CloudWatchAlarmState(cw, name)
	for _, want := range []cwtypes.StateValue{cwtypes.StateValueAlarm, cwtypes.StateValueOk, cwtypes.StateValueInsufficientData} {
		if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: want, StateReason: aws.String("test")}); err != nil {
			t.Fatal(err)
		}
		if got, err := state(ctx); err != nil || got != string(want) {
			t.Fatalf("state %q, %v; want %s", got, err, want)
		}
	}
	if _, err := adapters.CloudWatchAlarmState(cw, "no-such-alarm")(ctx); err == nil || !strings.Contains(err.Error(), "pilotlight deploy") {
		t.Fatalf("a missing alarm: %v; want an error naming the fix", err)
	}
}
