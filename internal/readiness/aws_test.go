package readiness

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/pilotlight/pilotlight/internal/awstest"
)

// On AWS, check reads the alarms and schedules (against moto_server here):
// a missing alarm and a disabled schedule fail, an alarm without data warns.
func TestAlarmsAndSchedulesOnAWS(t *testing.T) {
	url := awstest.Moto(t)
	ctx := context.Background()
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-west-2", BaseEndpoint: aws.String(url), Credentials: awstest.Credentials})
	ev := func(r string) *eventbridge.Client {
		return eventbridge.New(eventbridge.Options{Region: r, BaseEndpoint: aws.String(url), Credentials: awstest.Credentials})
	}
	alarmsList := []string{"app-primary-unhealthy", "app-replication-lag"}
	for _, name := range alarmsList {
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(name), Namespace: aws.String("Pilotlight"),
			MetricName: aws.String("RegionHealthy"), Statistic: cwtypes.StatisticMinimum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(3),
			Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorLessThanThreshold}); err != nil {
			t.Fatal(err)
		}
		if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: cwtypes.StateValueOk, StateReason: aws.String("test")}); err != nil {
			t.Fatal(err)
		}
	}
	sched := map[string][]string{"us-east-1": {"app-healthcheck"}, "us-west-2": {"app-healthcheck", "app-failovercontroller-reconcile"}}
	for r, names := range sched {
		for _, name := range names {
			if _, err := ev(r).PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), ScheduleExpression: aws.String("rate(1 minute)")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	in := Input{Primary: "us-east-1", DR: "us-west-2", AWS: &ControlPlane{Alarms: cw, AlarmList: alarmsList,
		Rules: map[string]RuleDescriber{"us-east-1": ev("us-east-1"), "us-west-2": ev("us-west-2")}, Schedules: sched}}
	check := func(f func(context.Context, Input) Result, want Status, say string) {
		t.Helper()
		res := f(ctx, in)
		if res.Status != want || !strings.Contains(res.Detail, say) {
			t.Fatalf("%s: %s %q; want %s saying %q", res.Check, res.Status, res.Detail, want, say)
		}
	}
	check(alarms, Pass, "app-primary-unhealthy OK")
	check(schedules, Pass, "3 schedules enabled")

	if _, err := ev("us-west-2").DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("app-failovercontroller-reconcile")}); err != nil {
		t.Fatal(err)
	}
	check(schedules, Fail, "app-failovercontroller-reconcile (us-west-2): DISABLED")
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("app-replication-lag"), StateValue: cwtypes.StateValueInsufficientData, StateReason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	check(alarms, Warn, "no data: app-replication-lag")
	in.AWS.AlarmList = append(in.AWS.AlarmList, "app-regions-diverge")
	check(alarms, Fail, "not there: app-regions-diverge")
}

type creds struct {
	c   aws.Credentials
	err error
}

func (c creds) Retrieve(context.Context) (aws.Credentials, error) { return c.c, c.err }

func TestCredentials(t *testing.T) {
	for _, c := range []struct {
		p    creds
		want Status
	}{
		{creds{c: aws.Credentials{AccessKeyID: "a"}}, Pass},
		{creds{c: aws.Credentials{AccessKeyID: "a", CanExpire: true, Expires: time.Now().Add(10 * time.Minute)}}, Warn},
		{creds{c: aws.Credentials{AccessKeyID: "a", CanExpire: true, Expires: time.Now().Add(8 * time.Hour)}}, Pass},
		{creds{err: errors.New("the SSO session has expired")}, Fail},
	} {
		res := credentialsCheck(context.Background(), Input{AWS: &ControlPlane{Credentials: c.p}})
		if res.Status != c.want {
			t.Errorf("%+v: %s %q, want %s", c.p, res.Status, res.Detail, c.want)
		}
	}
}
