package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/region"
)

// RegionProber checks a region's DynamoDB (control table read) and S3 (data
// bucket) with the given clients, which should make one attempt per call.
type RegionProber struct {
	Clients map[string]*region.Clients
	Names   region.Names
	Timeout time.Duration
}

var _ Prober = RegionProber{}

// Probe implements Prober.
func (p RegionProber) Probe(ctx context.Context, r string) error {
	c, ok := p.Clients[r]
	if !ok {
		return fmt.Errorf("no clients for %s", r)
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := control.New(c, p.Names).Active(ctx); err != nil {
		return err
	}
	if _, err := c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(p.Names.Bucket(r))}); err != nil {
		return fmt.Errorf("s3 %s: %w", p.Names.Bucket(r), err)
	}
	return nil
}

// HTTPRouting reads the routing view from an HTTP endpoint answering
// {"regions": {"<region>": {"healthy": bool}}} (the lab front door's
// /_pilotlight/routing).
type HTTPRouting struct {
	URL    string
	Client *http.Client
}

var _ RoutingView = HTTPRouting{}

// RoutingState is the routing endpoint's answer.
type RoutingState struct {
	Answer  string                   `json:"answer"` // region clients are sent to
	Regions map[string]RoutingRegion `json:"regions"`
}

// RoutingRegion is one region's health as the routing layer sees it.
type RoutingRegion struct {
	Healthy bool `json:"healthy"`
}

// Healthy implements RoutingView.
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

var _ RoutingView = DNSRouting{}

// Healthy implements RoutingView.
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

// Notify implements Notifier.
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

// WriteVerifier returns a verifier that proves a region accepts writes at an
// epoch the way the orders service writes: a canary item in the protected
// table, in a transaction conditioned on the region's active record.
func WriteVerifier(clients map[string]*region.Clients, names region.Names) func(ctx context.Context, r string, epoch int64) error {
	return func(ctx context.Context, r string, epoch int64) error {
		c, ok := clients[r]
		if !ok {
			return fmt.Errorf("no clients for %s", r)
		}
		_, err := c.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			control.New(c, names).ActiveCondition(epoch),
			{Put: &types.Put{TableName: aws.String(names.Table()), Item: map[string]types.AttributeValue{
				region.TableHashKey: &types.AttributeValueMemberS{Value: region.CanaryPrefix + "#verify#" + r},
				"epoch":             &types.AttributeValueMemberN{Value: strconv.FormatInt(epoch, 10)},
			}}},
		}})
		return err
	}
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

// Notify implements Notifier.
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
