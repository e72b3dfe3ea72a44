package failover_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/pilotlight/pilotlight/internal/failover"
)

// motoServer starts moto_server (an independent AWS emulator, from the
// machine image) on a free 127.0.0.1 port for the CloudWatch alarms API,
// which has no local server of its own. Missing: the test fails in CI and
// skips elsewhere.
func motoServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("moto_server not found: CI checks the CloudWatch calls against it (the machine image provides moto 5.2.1)")
		}
		t.Skip("moto_server not found: install moto to run this test")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer at %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The scheduled tick reads the detection alarm's state with
// cloudwatch:DescribeAlarms: each state is read as CloudWatch reports it,
// and a missing alarm is an error that says what to do.
func TestCloudWatchAlarmState(t *testing.T) {
	url := motoServer(t)
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-west-2", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	ctx := context.Background()
	name := "pilotlight-primary-unhealthy"
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(name), Namespace: aws.String("Pilotlight"),
		MetricName: aws.String("RegionHealthy"), Statistic: cwtypes.StatisticMinimum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(3),
		Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorLessThanThreshold}); err != nil {
		t.Fatal(err)
	}
	state := failover.CloudWatchAlarmState(cw, name)
	for _, want := range []cwtypes.StateValue{cwtypes.StateValueAlarm, cwtypes.StateValueOk, cwtypes.StateValueInsufficientData} {
		if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: want, StateReason: aws.String("test")}); err != nil {
			t.Fatal(err)
		}
		if got, err := state(ctx); err != nil || got != string(want) {
			t.Fatalf("state %q, %v; want %s", got, err, want)
		}
	}
	if _, err := failover.CloudWatchAlarmState(cw, "no-such-alarm")(ctx); err == nil || !strings.Contains(err.Error(), "pilotlight deploy") {
		t.Fatalf("a missing alarm: %v; want an error naming the fix", err)
	}
}
