package labtarget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/failover/adapters"
	"github.com/pilotlight/pilotlight/internal/failover/arrival"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/remote"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/lab/routing"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target"
	"github.com/pilotlight/pilotlight/internal/timeline"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// Lab is the target of a running lab, reached through its control API.
// Besides Target it offers the chaos scenarios' faults (scenario.LabFaults).
type Lab struct {
	c       *remote.Client
	clients map[string]*region.Clients
	http    *http.Client
}

var _ target.Target = (*Lab)(nil)

// Connect connects to the lab running from dir (remote.ErrNoLab: none).
func Connect(dir string) (*Lab, error) {
	c, err := remote.Connect(dir)
	if err != nil {
		return nil, err
	}
	return New(c)
}

// New is the target of the lab c controls.
func New(c *remote.Client) (*Lab, error) {
	clients, err := c.State.Clients(0)
	if err != nil {
		return nil, err
	}
	return &Lab{c: c, clients: clients, http: &http.Client{Timeout: 5 * time.Second}}, nil
}

// Lambda is a lab region's Lambda control plane, where the user's own
// functions live (nil: a lab from before it had one).
func (t *Lab) Lambda(regionName string) *lambda.Client {
	r, ok := t.c.State.Regions[regionName]
	if !ok || r.Endpoints.Lambda == "" {
		return nil
	}
	c := t.c.State.Credentials
	return lambda.New(lambda.Options{Region: regionName, BaseEndpoint: aws.String(r.Endpoints.Lambda), RetryMaxAttempts: 3,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")})
}

// Client is the lab's control API client (lab-only commands).
func (t *Lab) Client() *remote.Client { return t.c }

// Replicate has the lab replicate a user's table both ways, or a bucket
// to its replica (protect apply): the lab's stand-in for adding a global
// table replica or an S3 replication rule.
func (t *Lab) Replicate(ctx context.Context, a replication.Adopted) error {
	return t.c.Replicate(ctx, a)
}

// StopReplicating undoes Replicate (protect remove).
func (t *Lab) StopReplicating(ctx context.Context, a replication.Adopted) error {
	return t.c.StopReplicating(ctx, a)
}

func (t *Lab) Kind() target.Kind { return target.KindLab }
func (t *Lab) OutageProfile() target.OutageProfile {
	return target.OutageProfile{RTOSlack: 2 * time.Second}
}
func (t *Lab) Primary() string                     { return t.c.State.Primary }
func (t *Lab) DR() string                          { return t.c.State.DR }
func (t *Lab) Names() region.Names                 { return t.c.State.Names() }
func (t *Lab) Clients() map[string]*region.Clients { return t.clients }
func (t *Lab) URL() string                         { return t.c.State.FrontDoor }
func (t *Lab) RegionURL(r string) string           { return t.c.State.FrontDoor + "/_region/" + r }
func (t *Lab) HTTP() *http.Client                  { return t.http }
func (t *Lab) Close()                              {}

// Controller builds the controller an operator or a drill drives from
// outside: probes and control writes with one attempt, the front door as
// the routing view, the notifications log, and a drainer that proves
// arrival item by item and object by object (after kicking the lab's object
// replication).
func (t *Lab) Controller(context.Context) (*failover.Controller, error) {
	s := t.c.State
	clients, err := s.Clients(1)
	if err != nil {
		return nil, err
	}
	w, err := s.WitnessClients(1)
	if err != nil {
		return nil, err
	}
	if w != nil {
		clients[w.Name] = w
	}
	names := s.Names()
	d, err := t.Deployment()
	if err != nil {
		return nil, err
	}
	cfg := failover.Config{
		Clients: clients, Names: names, Deployment: d,
		Notify: &adapters.FileNotifier{Path: filepath.Join(t.c.Dir, "notifications.log")},
		Drain: &arrival.Drainer{Clients: t.clients, Names: names, Objects: true, Rounding: arrival.LocalStreamRounding, Replicated: t.c.DrainObjects, Check: t.c.DrainReady,
			Adopted: t.adopted},
	}
	if s.FrontDoor != "" {
		cfg.Routing = adapters.HTTPRouting{URL: s.FrontDoor + "/_pilotlight/routing", Client: &http.Client{Timeout: 2 * time.Second}}
	}
	return failover.New(cfg), nil
}

// adopted is what the lab replicates for protected applications (protect
// apply): every failback drain proves it too.
func (t *Lab) adopted(ctx context.Context) (arrival.Adopted, error) {
	st, err := t.c.ReplicationStatus(ctx)
	if err != nil {
		return arrival.Adopted{}, err
	}
	var a arrival.Adopted
	for _, x := range st.Adopted {
		if x.Table != "" {
			a.Tables = append(a.Tables, x.Table)
		} else {
			a.Buckets = append(a.Buckets, map[string]string{t.Primary(): x.Bucket, t.DR(): x.Replica})
		}
	}
	return a, nil
}

// Deployment is the lab's description of its deployment: read from the
// environment the lab gave its failover-controller function (itself resolved
// from the templates), as the function reads it. A lab that runs no
// functions is described by its own settings.
func (t *Lab) Deployment() (failover.Deployment, error) {
	s := t.c.State
	if s.ControllerEnv == nil {
		return failover.Deployment{Primary: s.Primary, DR: s.DR, Witness: s.Witness, Lease: lab.LeaseConfig, AgreementWait: s.AgreementWait}, nil
	}
	env, err := config.ReadFunctionEnv(func(k string) string { return s.ControllerEnv[k] })
	if err != nil {
		return failover.Deployment{}, fmt.Errorf("the lab's failover controller: %w", err)
	}
	return failover.DeploymentOf(env), nil
}

// Invoke calls a function through the lab's runtime interface emulators.
func (t *Lab) Invoke(ctx context.Context, r, function string, payload []byte) ([]byte, error) {
	return t.c.Invoke(ctx, r, function, payload)
}

func (t *Lab) Prepare(ctx context.Context) error {
	if t.c.State.FrontDoor == "" {
		return errors.New("the lab runs without functions: run `make build`, then `pilotlight lab down` and `pilotlight lab up`")
	}
	if err := t.c.Restore(ctx, ""); err != nil {
		return err
	}
	return t.c.ResumeReplication(ctx)
}

func (t *Lab) Inject(ctx context.Context, r string) (string, error) {
	return r + " cut off (DynamoDB, S3, Lambda)", t.c.Cut(ctx, r, "")
}

func (t *Lab) Heal(ctx context.Context, r string) error { return t.c.Restore(ctx, r) }
func (t *Lab) FailbackReplication(ctx context.Context, on bool) error {
	return t.c.SetFailbackReplication(ctx, on)
}

func (t *Lab) Events(ctx context.Context, since time.Time) []timeline.Event {
	evs, _ := t.c.Events(ctx, since)
	return evs
}

func (t *Lab) Routed(ctx context.Context) (string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.c.State.FrontDoor+"/_pilotlight/routing", nil)
	if err != nil {
		return "", false
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var rs routing.RoutingStatus
	if err := json.NewDecoder(resp.Body).Decode(&rs); err != nil {
		return "", false
	}
	return rs.Answer, rs.Answer == rs.Pending
}

func (t *Lab) DetectionFloor(ctx context.Context) (time.Duration, string) {
	st, err := t.c.ReplicationStatus(ctx)
	if err != nil || st.Functions == nil {
		return 0, ""
	}
	fo := st.Functions
	return time.Duration(fo.AlarmPeriods)*fo.HealthInterval + fo.RouteTTL, fmt.Sprintf("alarm %d × %s + TTL %s", fo.AlarmPeriods, fo.HealthInterval, fo.RouteTTL)
}

// Validate has the lab's data-validator function (the real binary, in the
// DR region) compare the regions.
func (t *Lab) Validate(ctx context.Context) (*verdict.Report, error) {
	out, err := t.c.Invoke(ctx, t.DR(), region.FnValidator, []byte(`{"settle":"5s"}`))
	if err != nil {
		return nil, err
	}
	var v verdict.Report
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("the function returned %q: %w", out, err)
	}
	return &v, nil
}

// Observe reads the lab's status: the front door's view, servers, faults
// and both replicators.
func (t *Lab) Observe(ctx context.Context) (target.Observation, error) {
	st, err := t.c.Status(ctx)
	if err != nil {
		return target.Observation{}, err
	}
	o := target.Observation{Servers: map[string]map[string]bool{}, Faults: map[string][]string{}, Paused: st.Paused}
	if st.Routing != nil {
		o.Routing, o.Answer = map[string]bool{}, st.Routing.Answer
		for r, h := range st.Routing.Regions {
			o.Routing[r] = h.Healthy
		}
	}
	for _, r := range st.Regions {
		o.Servers[r.Name] = r.Up
		for _, f := range r.Faults {
			o.Faults[r.Name] = append(o.Faults[r.Name], f.String())
		}
	}
	for _, d := range st.Replication {
		o.Replication = append(o.Replication, d)
	}
	return o, nil
}

// The chaos scenarios' faults (scenario.LabFaults).

func (t *Lab) CutService(ctx context.Context, r, svc string) error { return t.c.Cut(ctx, r, svc) }
func (t *Lab) Latency(ctx context.Context, r, svc string, d time.Duration) error {
	return t.c.AddLatency(ctx, r, svc, d)
}
func (t *Lab) PauseReplication(ctx context.Context, p bool) error {
	if p {
		return t.c.PauseReplication(ctx)
	}
	return t.c.ResumeReplication(ctx)
}
func (t *Lab) SetLag(ctx context.Context, d time.Duration) error {
	return t.c.SetReplicationLag(ctx, d)
}
func (t *Lab) Lag(ctx context.Context) (time.Duration, error) {
	st, err := t.c.ReplicationStatus(ctx)
	return st.Lag, err
}
func (t *Lab) Witness() string { return t.c.State.Witness }
func (t *Lab) CrashControllerAfter(ctx context.Context, phase string) error {
	return t.c.CrashControllerAfter(ctx, phase)
}

// LateHealthChecks drops one in three of a region's scheduled health-check
// runs for d.
func (t *Lab) LateHealthChecks(ctx context.Context, r string, d time.Duration) error {
	return t.c.LateHealthChecks(ctx, r, d)
}

func (t *Lab) SetClockOffset(ctx context.Context, r string, d time.Duration) error {
	return t.c.SetClockOffset(ctx, r, d)
}
func (t *Lab) CutLink(ctx context.Context, a, b string) error { return t.c.CutLink(ctx, a, b) }

// Behind returns a client of the region's DynamoDB behind its fault proxy.
func (t *Lab) Behind(r string) (*region.Clients, error) {
	rs, ok := t.c.State.Regions[r]
	if !ok || rs.Behind == "" {
		return nil, fmt.Errorf("the lab state has no endpoint behind %s's fault proxy: restart the lab (pilotlight lab down; lab up)", r)
	}
	return region.New(lab.LabSpec(r, lab.Endpoints{DynamoDB: rs.Behind}, t.c.State.Credentials, 0))
}

// AlarmPeriod is the lab alarm's period (its health-check interval).
func (t *Lab) AlarmPeriod(ctx context.Context) (time.Duration, error) {
	st, err := t.c.ReplicationStatus(ctx)
	if err != nil {
		return 0, err
	}
	if st.Functions == nil {
		return 0, errors.New("the lab runs without its functions: start it with them (pilotlight lab up)")
	}
	return st.Functions.HealthInterval, nil
}

// Backlog is the age of the oldest table change not yet replicated, and
// whether replication is paused.
func (t *Lab) Backlog(ctx context.Context) (oldest time.Duration, paused bool, err error) {
	st, err := t.c.ReplicationStatus(ctx)
	if err != nil {
		return 0, false, err
	}
	for _, d := range st.Replication {
		if d.Kind == "table" && d.Enabled {
			oldest = max(oldest, time.Duration(d.OldestPendingMs)*time.Millisecond)
		}
	}
	return oldest, st.Paused, nil
}
