// Package adapters connects the failover controller to what it reads and
// tells beyond the data plane: the routing layer's view of the primary
// (the lab's routing endpoint, Route 53 through DNS), the detection
// alarm's state (CloudWatch, the lab's alarm endpoint), and announcements
// of each phase (an SNS topic, the lab's notifications file). Each is a
// value the controller's configuration takes (failover.Config).
//
// It must not decide anything: the controller judges what these report.
package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/failover"
)

// HTTPRouting reads the routing view from an HTTP endpoint answering
// {"regions": {"<region>": {"healthy": bool}}} (the lab front door's
// /_pilotlight/routing).
type HTTPRouting struct {
	URL    string
	Client *http.Client
}

var _ failover.RoutingView = HTTPRouting{}

// RoutingState is the routing endpoint's answer.
type RoutingState struct {
	Answer  string                   `json:"answer"` // region clients are sent to
	Regions map[string]RoutingRegion `json:"regions"`
}

// RoutingRegion is one region's health as the routing layer sees it.
type RoutingRegion struct {
	Healthy bool `json:"healthy"`
}

// Healthy implements failover.RoutingView.
func (h HTTPRouting) Healthy(ctx context.Context, r string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return false, err
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var st RoutingState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return false, fmt.Errorf("routing view: %w", err)
	}
	rr, ok := st.Regions[r]
	if !ok {
		return false, fmt.Errorf("routing view does not know %s", r)
	}
	return rr.Healthy, nil
}

// DNSRouting is Route 53's view of the primary, read through DNS: the
// failover record answers with the primary's host while Route 53's health
// checkers find its health-only URL healthy, and with the DR region's
// (DRHost) once they do not. It is a second opinion independent of the DR
// region's own health check — different checkers, a different path — and
// needs no credentials. Healthy(r) is false only when the record answers
// with DRHost; it is meant for the region being failed away from.
type DNSRouting struct {
	Record string // the failover record, e.g. orders.example.com
	DRHost string // the DR orders-service host the record answers with after failover
	// LookupCNAME resolves a name's canonical name (net.DefaultResolver's
	// when nil).
	LookupCNAME func(ctx context.Context, host string) (string, error)
}

var _ failover.RoutingView = DNSRouting{}

// Healthy implements failover.RoutingView.
func (d DNSRouting) Healthy(ctx context.Context, _ string) (bool, error) {
	lookup := d.LookupCNAME
	if lookup == nil {
		lookup = net.DefaultResolver.LookupCNAME
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cname, err := lookup(ctx, d.Record)
	if err != nil {
		return false, fmt.Errorf("route 53 record %s: %w", d.Record, err)
	}
	return !strings.EqualFold(strings.TrimSuffix(cname, "."), strings.TrimSuffix(d.DRHost, ".")), nil
}

// FileNotifier appends each announcement as a JSON line to a file (the lab's
// notifications log).
type FileNotifier struct {
	Path string
	mu   sync.Mutex
}

// Notify implements failover.Notifier.
func (n *FileNotifier) Notify(_ context.Context, e record.Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	f, err := os.OpenFile(n.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// Publisher is the part of the SNS API SNSNotifier uses.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNSNotifier announces every phase change on an SNS topic (on AWS; an
// e-mail subscription is a deploy parameter).
type SNSNotifier struct {
	SNS   Publisher
	Topic string
}

// Notify implements failover.Notifier.
func (n SNSNotifier) Notify(ctx context.Context, e record.Entry) error {
	body, _ := json.MarshalIndent(e, "", "  ")
	subject := fmt.Sprintf("pilotlight: %s %s → %s", e.Phase, e.From, e.To)
	if len(subject) > 100 {
		subject = subject[:100]
	}
	_, err := n.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(n.Topic), Subject: aws.String(subject), Message: aws.String(string(body))})
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.Topic, err)
	}
	return nil
}

// AlarmDescriber is the part of the CloudWatch API CloudWatchAlarmState uses.
// The CloudWatch client is held at v1.52 (go.mod), the last that speaks the
// query protocol: later ones speak only RPC v2 CBOR, which CloudWatch also
// serves but moto_server, the independent emulator the test runs against,
// does not yet.
type AlarmDescriber interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// CloudWatchAlarmState reads the detection alarm's state with
// cloudwatch:DescribeAlarms (on AWS; the DR template grants it on that one
// alarm). The scheduled tick needs it because alarm events fire only when
// the state changes: a refused failover is re-evaluated while it stays in
// ALARM.
func CloudWatchAlarmState(cw AlarmDescriber, name string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}})
		if err != nil {
			return "", fmt.Errorf("alarm %s: %w", name, err)
		}
		if len(out.MetricAlarms) == 0 {
			return "", fmt.Errorf("alarm %s does not exist: deploy the DR stack (pilotlight deploy)", name)
		}
		return string(out.MetricAlarms[0].StateValue), nil
	}
}

// HTTPAlarmState reads an alarm's state from an endpoint answering
// {"state": "ALARM"} (the lab front door's /_pilotlight/alarm).
func HTTPAlarmState(url string, client *http.Client) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var st struct {
			State string `json:"state"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return "", fmt.Errorf("alarm state: %w", err)
		}
		return st.State, nil
	}
}
