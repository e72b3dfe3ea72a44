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
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

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

// The same function in both regions runs the same code and configuration,
// per-region keys aside; another build in one region, or another
// environment value, fails (against moto_server's Lambda).
func TestFunctionsAlikeInBothRegions(t *testing.T) {
	url := awstest.Moto(t)
	ctx := context.Background()
	role, err := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: awstest.Credentials}).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("app-role"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	lc := map[string]*lambda.Client{}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		lc[r] = lambda.New(lambda.Options{Region: r, BaseEndpoint: aws.String(url), Credentials: awstest.Credentials})
	}
	create := func(r, name, code string, env map[string]string) {
		t.Helper()
		if _, err := lc[r].CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Role: role.Role.Arn,
			Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"), MemorySize: aws.Int32(128), Timeout: aws.Int32(30),
			Code: &lambdatypes.FunctionCode{ZipFile: awstest.Zip(t, code)}, Environment: &lambdatypes.Environment{Variables: env}}); err != nil {
			t.Fatal(err)
		}
	}
	create("us-east-1", "app-app", "build 1", map[string]string{"PILOTLIGHT_APP_NAME": "app", "PILOTLIGHT_PEER_REGION": "us-west-2"})
	create("us-west-2", "app-app", "build 1", map[string]string{"PILOTLIGHT_APP_NAME": "app", "PILOTLIGHT_PEER_REGION": "us-east-1"})
	create("us-east-1", "app-healthcheck", "build 1", map[string]string{"PILOTLIGHT_LEASE_TERM": "60s"})
	create("us-west-2", "app-healthcheck", "build 2", map[string]string{"PILOTLIGHT_LEASE_TERM": "20s"})
	in := Input{Primary: "us-east-1", DR: "us-west-2", AWS: &ControlPlane{InBoth: []string{"app-app"},
		Functions: map[string]FunctionReader{"us-east-1": lc["us-east-1"], "us-west-2": lc["us-west-2"]}}}
	if res := functions(ctx, in); res.Status != Pass {
		t.Fatalf("alike but for the peer region: %s %q", res.Status, res.Detail)
	}
	in.AWS.InBoth = append(in.AWS.InBoth, "app-healthcheck")
	res := functions(ctx, in)
	if res.Status != Fail || !strings.Contains(res.Detail, "app-healthcheck differs") || !strings.Contains(res.Detail, "code SHA-256") || !strings.Contains(res.Detail, "environment PILOTLIGHT_LEASE_TERM") {
		t.Fatalf("another build and lease term in one region: %s %q", res.Status, res.Detail)
	}
}
