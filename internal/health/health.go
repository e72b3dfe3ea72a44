package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Probe names.
const (
	ProbeDynamoDB = "dynamodb"
	ProbeS3       = "s3"
	ProbeApp      = "app"
)

// CanaryPrefix starts every key and object name the probes write.
const CanaryPrefix = region.CanaryPrefix

// ReplicationCanaryKey is the table key of a region's replication canary.
func ReplicationCanaryKey(regionName string) string {
	return CanaryPrefix + "#replication#" + regionName
}

// Target is a region to probe.
type Target struct {
	Clients *region.Clients // one attempt per call
	AppURL  string          // base URL of the region's orders service ("" skips the probe)
}

// Prober probes its own region and its peer.
type Prober struct {
	Self, Peer Target
	Names      region.Names
	HTTP       *http.Client
	Timeout    time.Duration // per probe; 0 means 2s
	Now        func() time.Time
	// S3WriteEvery, when set, writes the S3 canary only that often and
	// otherwise reads back the last one written: a GET costs a tenth of a
	// PUT, and a region that serves the object is up. 0 writes every time.
	S3WriteEvery time.Duration

	mu     sync.Mutex
	s3Last map[string]s3Canary
}

type s3Canary struct {
	at   time.Time
	body []byte
}

// Result is one probe's outcome.
type Result struct {
	Target    string  `json:"target"`
	Probe     string  `json:"probe"`
	OK        bool    `json:"ok"`
	LatencyMs float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Verdict is a region's health as seen from the prober's region.
type Verdict struct {
	Region  string   `json:"region"`
	Healthy bool     `json:"healthy"`
	Probes  []Result `json:"probes"`
}

// Report is one health-check run.
type Report struct {
	Observer string    `json:"observer"`
	At       time.Time `json:"at"`
	Verdicts []Verdict `json:"verdicts"`
	// ReplicationLagMs is the age of the peer's newest replication canary as
	// read here: replication lag plus at most one schedule interval. -1 when
	// unknown.
	ReplicationLagMs float64 `json:"replication_lag_ms"`
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Run probes both regions, stamps this region's replication canary and reads
// the peer's.
func (p *Prober) Run(ctx context.Context) Report {
	r := Report{Observer: p.Self.Clients.Name, At: p.now().UTC(), ReplicationLagMs: -1}
	type out struct {
		i int
		v Verdict
	}
	ch := make(chan out, 2)
	for i, t := range []Target{p.Self, p.Peer} {
		go func() { ch <- out{i, p.verdict(ctx, t)} }()
	}
	lag := make(chan float64, 1)
	go func() {
		v, err := p.canary(ctx)
		if err != nil {
			v = -1
		}
		lag <- v
	}()
	r.Verdicts = make([]Verdict, 2)
	for range 2 {
		o := <-ch
		r.Verdicts[o.i] = o.v
	}
	r.ReplicationLagMs = <-lag
	return r
}

func (p *Prober) verdict(ctx context.Context, t Target) Verdict {
	v := Verdict{Region: t.Clients.Name, Healthy: true}
	for _, probe := range []struct {
		name string
		fn   func(context.Context, Target) error
	}{{ProbeDynamoDB, p.probeDynamoDB}, {ProbeS3, p.probeS3}, {ProbeApp, p.probeApp}} {
		if probe.name == ProbeApp && t.AppURL == "" {
			continue
		}
		res := p.time(ctx, t, probe.name, probe.fn)
		v.Healthy = v.Healthy && res.OK
		v.Probes = append(v.Probes, res)
	}
	return v
}

func (p *Prober) time(ctx context.Context, t Target, name string, fn func(context.Context, Target) error) Result {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err := fn(ctx, t)
	res := Result{Target: t.Clients.Name, Probe: name, OK: err == nil, LatencyMs: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// probeDynamoDB writes and reads back a canary row in the region's control
// table (never replicated).
func (p *Prober) probeDynamoDB(ctx context.Context, t Target) error {
	key := map[string]types.AttributeValue{
		region.ControlHashKey: &types.AttributeValueMemberS{Value: CanaryPrefix},
		region.ControlSortKey: &types.AttributeValueMemberS{Value: p.Self.Clients.Name},
	}
	stamp := strconv.FormatInt(p.now().UnixNano(), 10)
	item := map[string]types.AttributeValue{"at": &types.AttributeValueMemberS{Value: stamp}}
	for k, v := range key {
		item[k] = v
	}
	if _, err := t.Clients.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(p.Names.ControlTable()), Item: item}); err != nil {
		return fmt.Errorf("canary write: %w", err)
	}
	out, err := t.Clients.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.Names.ControlTable()), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("canary read: %w", err)
	}
	if v, ok := out.Item["at"].(*types.AttributeValueMemberS); !ok || !sameOrLater(v.Value, stamp) {
		return errors.New("canary read returned an older value than written")
	}
	return nil
}

// sameOrLater reports whether the canary read back (got) is the one this
// probe wrote (want) or a later one. Every instance of a region's health
// check shares the canary's key — two run at once whenever one invocation
// renews into the next schedule period — so another instance's write may
// land between this probe's write and its read: that is a healthy region,
// not a failed probe. A stamp older than this probe's by more than a
// second (more than two instances' clocks differ) is a stale read.
func sameOrLater(got, want string) bool {
	if got == want {
		return true
	}
	g, err1 := strconv.ParseInt(got, 10, 64)
	w, err2 := strconv.ParseInt(want, 10, 64)
	return err1 == nil && err2 == nil && g >= w-int64(time.Second)
}

func (p *Prober) probeS3(ctx context.Context, t Target) error {
	key := CanaryPrefix + "/" + p.Self.Clients.Name
	bucket := p.Names.BackupBucket(t.Clients.Name)
	p.mu.Lock()
	last, ok := p.s3Last[t.Clients.Name]
	p.mu.Unlock()
	body := last.body
	if !ok || p.S3WriteEvery <= 0 || p.now().Sub(last.at) >= p.S3WriteEvery {
		body = []byte(strconv.FormatInt(p.now().UnixNano(), 10))
		if _, err := t.Clients.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			return fmt.Errorf("canary put: %w", err)
		}
		p.mu.Lock()
		if p.s3Last == nil {
			p.s3Last = map[string]s3Canary{}
		}
		p.s3Last[t.Clients.Name] = s3Canary{at: p.now(), body: body}
		p.mu.Unlock()
	}
	out, err := t.Clients.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("canary get: %w", err)
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil {
		return fmt.Errorf("canary get: %w", err)
	}
	if !sameOrLater(string(got), string(body)) {
		return errors.New("canary get returned an older body than put")
	}
	return nil
}

// probeApp asks the region's orders service for /health. A region that is
// not active answers 503 with a JSON verdict: the application is up, it just
// does not take writes, so that counts as reachable.
func (p *Prober) probeApp(ctx context.Context, t Target) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.AppURL+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var h struct {
		Healthy bool   `json:"healthy"`
		Active  string `json:"active_region"`
		Reason  string `json:"reason"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h); err != nil {
		return fmt.Errorf("app /health: status %d, unreadable body", resp.StatusCode)
	}
	if resp.StatusCode == http.StatusOK || (h.Active != "" && h.Active != t.Clients.Name) {
		return nil
	}
	return fmt.Errorf("app /health: %d %s", resp.StatusCode, h.Reason)
}

// canary stamps this region's replication canary in the protected table and
// returns the age of the peer's, as replicated here.
func (p *Prober) canary(ctx context.Context) (float64, error) {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := p.now()
	self := p.Self.Clients
	_, err := self.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(p.Names.Table()), Item: map[string]types.AttributeValue{
		region.TableHashKey: &types.AttributeValueMemberS{Value: ReplicationCanaryKey(self.Name)},
		"at":                &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
	}})
	if err != nil {
		return -1, err
	}
	out, err := self.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.Names.Table()), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: ReplicationCanaryKey(p.Peer.Clients.Name)}}})
	if err != nil {
		return -1, err
	}
	v, ok := out.Item["at"].(*types.AttributeValueMemberN)
	if !ok {
		return -1, errors.New("no canary from the peer yet")
	}
	ms, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return -1, err
	}
	return float64(now.UnixMilli() - ms), nil
}

// Emit writes the report as EMF lines: RegionHealthy and ProbeLatencyMs per
// target, ReplicationLagMs when known.
func Emit(w io.Writer, r Report) error { return EmitWith(w, r, EmitOptions{Full: true}) }

// EmitLease writes the holder's renewal result (LeaseRenewed 1 or 0); a
// region that does not hold the lease emits nothing.
func EmitLease(w io.Writer, region string, res control.RenewResult, err error) error {
	if errors.Is(err, control.ErrNotHolder) {
		return nil
	}
	v := 1.0
	if err != nil {
		v = 0
	}
	return metrics.Write(w, metrics.Namespace, time.Now(), map[string]string{"Region": region}, metrics.Datapoint{Name: metrics.LeaseRenewed, Value: v})
}

// EmitOptions choose which metrics a health check emits and how finely.
// Every distinct metric costs on AWS beyond the free tier's ten, so the
// stacks' default emits only what the alarm and the dashboard read.
type EmitOptions struct {
	Full           bool // also ProbeLatencyMs per probe (16 more metrics) and the observer's health of itself
	HighResolution bool // RegionHealthy at 1-second storage resolution, for 10 s alarms
}

// ParseMetricsMode reads PILOTLIGHT_METRICS: full (the lab's default: all
// metrics), standard (RegionHealthy and ReplicationLagMs, 60 s resolution),
// high-resolution (the same at 1 s resolution, for the fast profile).
func ParseMetricsMode(s string) (EmitOptions, error) {
	switch s {
	case "", "full":
		return EmitOptions{Full: true}, nil
	case "standard":
		return EmitOptions{}, nil
	case "high-resolution":
		return EmitOptions{HighResolution: true}, nil
	}
	return EmitOptions{}, fmt.Errorf("PILOTLIGHT_METRICS %q: use full, standard or high-resolution", s)
}

// EmitWith writes the report as EMF lines, as the options say.
func EmitWith(w io.Writer, r Report, o EmitOptions) error {
	res := 0
	if o.HighResolution {
		res = 1
	}
	for _, v := range r.Verdicts {
		healthy := 0.0
		if v.Healthy {
			healthy = 1
		}
		if v.Region == r.Observer && !o.Full {
			continue // standard modes: only the peer's health, which alarms read
		}
		dims := map[string]string{"Region": r.Observer, "Target": v.Region}
		if err := metrics.Write(w, metrics.Namespace, r.At, dims, metrics.Datapoint{Name: metrics.RegionHealthy, Value: healthy, StorageResolution: res}); err != nil {
			return err
		}
		if !o.Full {
			continue
		}
		for _, res := range v.Probes {
			pd := map[string]string{"Region": r.Observer, "Target": v.Region, "Probe": res.Probe}
			if err := metrics.Write(w, metrics.Namespace, r.At, pd, metrics.Datapoint{Name: metrics.ProbeLatencyMs, Unit: "Milliseconds", Value: res.LatencyMs}); err != nil {
				return err
			}
		}
	}
	if r.ReplicationLagMs >= 0 && len(r.Verdicts) == 2 {
		dims := map[string]string{"Region": r.Observer, "Source": r.Verdicts[1].Region}
		return metrics.Write(w, metrics.Namespace, r.At, dims, metrics.Datapoint{Name: metrics.ReplicationLagMs, Unit: "Milliseconds", Value: r.ReplicationLagMs})
	}
	return nil
}
