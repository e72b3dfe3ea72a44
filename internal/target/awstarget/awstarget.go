package awstarget

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/failover/adapters"
	"github.com/pilotlight/pilotlight/internal/failover/arrival"
	"github.com/pilotlight/pilotlight/internal/health"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target"
	"github.com/pilotlight/pilotlight/internal/timeline"
	"github.com/pilotlight/pilotlight/internal/validate"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// Switch is the AWS outage switch: a deny-everything policy on the primary
// region's function roles, put on to inject the fault and taken off to heal
// (also when a drill is interrupted).
type Switch interface {
	On(ctx context.Context, region string) ([]string, error)
	Off(ctx context.Context, region string) error
}

// AWS is the target of a deployment on AWS (Connect), or, with no
// Account, a rehearsal of one on the lab (the fields set by the test).
type AWS struct {
	PrimaryRegion, DRRegion string
	AppNames                region.Names
	// AppURLs are the orders service's function URLs by region (empty:
	// Prepare reads the stacks' outputs).
	AppURLs map[string]string
	Outage  Switch
	// Stores are the control records the clients' view of the active
	// region reads (nil: the controller's).
	Stores map[string]*control.Store
	// DataClients reach both regions with the SDK's retries.
	DataClients map[string]*region.Clients
	// Credentials sign requests to the function URLs (AuthType AWS_IAM).
	Credentials aws.CredentialsProvider
	// Profile is the detection profile deployed: free or fast (empty:
	// Prepare reads the DR stack's parameter).
	Profile string
	// Poll is how often clients look up the active region (their "TTL").
	Poll time.Duration
	// Account is the connection to AWS (nil in a rehearsal).
	Account *Account
	// FunctionEnv reads a deployed function's environment variables (nil:
	// Lambda's GetFunctionConfiguration through Account). The controller's
	// description of the deployment comes from the DR region's failover
	// controller, so the CLI's controller is the function's.
	FunctionEnv func(ctx context.Context, region, function string) (map[string]string, error)
	// ControlClients reach a region's control table with one attempt per
	// call (nil: through Account).
	ControlClients func(region string) (*region.Clients, error)
	// Drain is the failback's drain (nil: arrival.Drainer over
	// DataClients).
	Drain failover.Drainer
	// ProtectDir holds the plans protect apply applied (PILOTLIGHT_PROTECT_DIR):
	// the failback's drain proves their tables and buckets too.
	ProtectDir string
	// ClockBound measures this machine's clock for claims (nil: against the
	// deployment's time server, PILOTLIGHT_TIME_SERVER).
	ClockBound func(ctx context.Context) (time.Duration, error)

	once   sync.Once
	mu     sync.Mutex
	active string
	client *http.Client
	stop   context.CancelFunc
}

var _ target.Target = (*AWS)(nil)

func (t *AWS) Kind() target.Kind { return target.KindAWS }
func (t *AWS) OutageProfile() target.OutageProfile {
	return target.OutageProfile{RPONote: "0 by construction on AWS: the outage switch denies the functions' roles, while global-table and S3 replication keep running"}
}

// AWSAccount is the account the target is connected to (nil: none).
func (t *AWS) AWSAccount() *Account { return t.Account }
func (t *AWS) Primary() string      { return t.PrimaryRegion }
func (t *AWS) DR() string           { return t.DRRegion }
func (t *AWS) Names() region.Names  { return t.AppNames }

// Clients reach both regions' data with the SDK's retries.
func (t *AWS) Clients() map[string]*region.Clients { return t.DataClients }

// Prepare reads the deployment's URLs and detection profile from its
// stacks, takes off an outage switch an interrupted drill may have left
// on, and starts the clients' view of the active region.
func (t *AWS) Prepare(ctx context.Context) error {
	if err := t.readStacks(ctx); err != nil {
		return err
	}
	if t.AppURLs[t.PrimaryRegion] == "" || t.AppURLs[t.DRRegion] == "" {
		return fmt.Errorf("no orders-service URLs for %s and %s: deploy first (pilotlight deploy)", t.PrimaryRegion, t.DRRegion)
	}
	if err := t.Outage.Off(ctx, t.PrimaryRegion); err != nil {
		return err
	}
	if t.Stores == nil {
		fc, err := t.Controller(ctx)
		if err != nil {
			return err
		}
		t.Stores = fc.Stores()
	}
	t.once.Do(func() {
		t.client = &http.Client{Timeout: 10 * time.Second, Transport: &region.SigV4Transport{Credentials: t.Credentials, Service: "lambda"}}
		if t.Poll == 0 {
			t.Poll = time.Second
		}
		t.active = t.PrimaryRegion
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		t.stop = cancel
		go t.watch(pctx)
	})
	return nil
}

// Close stops the active-region watcher.
func (t *AWS) Close() {
	if t.stop != nil {
		t.stop()
	}
}

// watch keeps the highest-epoch active record of the two control tables:
// where a client that follows pilotlight's routing sends writes.
func (t *AWS) watch(ctx context.Context) {
	tick := time.NewTicker(t.Poll)
	defer tick.Stop()
	for {
		var best record.Active
		for _, s := range t.Stores {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			a, err := s.Active(rctx)
			cancel()
			if err == nil && a.Epoch > best.Epoch {
				best = a
			}
		}
		if best.Region != "" {
			t.mu.Lock()
			t.active = best.Region
			t.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *AWS) Inject(ctx context.Context, r string) (string, error) {
	roles, err := t.Outage.On(ctx, r)
	return fmt.Sprintf("outage switch on in %s: deny-all policy on %s", r, strings.Join(roles, ", ")), err
}

func (t *AWS) Heal(ctx context.Context, r string) error {
	if r == "" {
		r = t.PrimaryRegion
	}
	return t.Outage.Off(ctx, r)
}

// FailbackReplication: on AWS the stacks own the replication rules.
func (t *AWS) FailbackReplication(context.Context, bool) error { return nil }

func (t *AWS) URL() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.AppURLs[t.active]
}

func (t *AWS) HTTP() *http.Client { return t.client }

// RegionURL is the region's function URL.
func (t *AWS) RegionURL(r string) string { return t.AppURLs[r] }

func (t *AWS) Routed(context.Context) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active, true
}

func (t *AWS) DetectionFloor(context.Context) (time.Duration, string) {
	period := time.Minute
	if t.Profile == "fast" {
		period = 10 * time.Second
	}
	return 3*period + t.Poll, fmt.Sprintf("alarm 3 × %s (%s profile) + client lookup %s", period, t.Profile, t.Poll)
}

func (t *AWS) Events(context.Context, time.Time) []timeline.Event { return nil }

// Validate compares the regions from here with the validator's code (the
// deployed data-validator function runs the same on its schedule).
func (t *AWS) Validate(ctx context.Context) (*verdict.Report, error) {
	v := &validate.Validator{
		Primary: validate.SideFor(t.DataClients[t.PrimaryRegion], t.AppNames, true),
		DR:      validate.SideFor(t.DataClients[t.DRRegion], t.AppNames, true),
		Settle:  30 * time.Second,
	}
	return v.Run(ctx)
}

// readStacks fills AppURLs and Profile from the DR stack when not set.
func (t *AWS) readStacks(ctx context.Context) error {
	if t.Account == nil || (len(t.AppURLs) > 0 && t.Profile != "") {
		return nil
	}
	// Everything comes from the DR stack — its own URL, the primary's (a
	// parameter deploy passes it), the profile — so a drill or a recovery
	// needs nothing from the primary region's CloudFormation.
	st := &deploy.Stacks{Client: t.Account.CloudFormation}
	dr := deploy.Stack{Region: t.DRRegion, Name: t.AppNames.Stack("dr")}
	out, err := st.Outputs(ctx, dr)
	if err != nil {
		return err
	}
	if out == nil {
		return fmt.Errorf("stack %s does not exist in %s: run `pilotlight deploy` first", dr.Name, dr.Region)
	}
	params, err := st.Parameters(ctx, dr)
	if err != nil {
		return err
	}
	t.AppURLs = map[string]string{t.DRRegion: out["AppUrl"], t.PrimaryRegion: params["PrimaryAppUrl"]}
	t.Profile = params["DetectionProfile"]
	return nil
}

// Deployment reads the description of the deployment from the DR region's
// failover-controller function, exactly as that function reads it: the
// regions, the witness, the lease, the agreement wait, the dwell. It needs
// nothing from the primary region.
func (t *AWS) Deployment(ctx context.Context) (failover.Deployment, config.FunctionEnv, error) {
	read := t.FunctionEnv
	if read == nil {
		if t.Account == nil {
			return failover.Deployment{}, config.FunctionEnv{}, errors.New("no AWS connection: build the target with Connect")
		}
		read = t.Account.FunctionEnv
	}
	vars, err := read(ctx, t.DRRegion, t.AppNames.Function(region.FnController))
	if err != nil {
		return failover.Deployment{}, config.FunctionEnv{}, fmt.Errorf("read the deployment from the failover controller in %s: %w", t.DRRegion, err)
	}
	env, err := config.ReadFunctionEnv(func(k string) string {
		if k == "AWS_REGION" {
			return t.DRRegion
		}
		return vars[k]
	})
	if err != nil {
		return failover.Deployment{}, env, fmt.Errorf("the failover controller in %s: %w (redeploy with `pilotlight deploy`)", t.DRRegion, err)
	}
	d := failover.DeploymentOf(env)
	if d.Primary != t.PrimaryRegion || d.DR != t.DRRegion {
		return d, env, fmt.Errorf("the failover controller in %s protects %s → %s, but the settings say %s → %s: set AWS_DEFAULT_REGION and AWS_DR_REGION to the deployed regions",
			t.DRRegion, d.Primary, d.DR, t.PrimaryRegion, t.DRRegion)
	}
	return d, env, nil
}

// Controller builds the controller an operator's command drives on AWS,
// from the deployment's one description (Deployment): the witness, the lease
// and the dwell the deployed function uses, control writes with one attempt,
// notices to the function's topic. The failback's drain proves arrival item
// by item and object by object (arrival.Drainer).
func (t *AWS) Controller(ctx context.Context) (*failover.Controller, error) {
	d, env, err := t.Deployment(ctx)
	if err != nil {
		return nil, err
	}
	connect := t.ControlClients
	if connect == nil {
		connect = func(r string) (*region.Clients, error) { return region.New(t.Account.Spec(r, 1)) }
	}
	clients := map[string]*region.Clients{}
	for _, r := range []string{d.Primary, d.DR, d.Witness} {
		if r == "" {
			continue
		}
		if clients[r], err = connect(r); err != nil {
			return nil, err
		}
	}
	cfg := failover.Config{Clients: clients, Names: t.AppNames, Deployment: d, Drain: t.Drain, ClockBound: t.ClockBound}
	if cfg.ClockBound == nil && env.TimeServer != "" {
		// This machine is not a Lambda host: its claims trust its clock only
		// as far as the deployment's time server vouches for it.
		cfg.ClockBound = func(ctx context.Context) (time.Duration, error) {
			mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			off, rtt, err := health.MeasureClockOffset(mctx, env.TimeServer, time.Now)
			if err != nil {
				return 0, fmt.Errorf("%w (a claim from this machine needs its clock measured: allow UDP to %s, or let the failover-controller function in %s fail over)", err, env.TimeServer, t.DRRegion)
			}
			return max(off, -off) + rtt, nil
		}
	}
	if cfg.Drain == nil {
		cfg.Drain = &arrival.Drainer{Clients: t.DataClients, Names: t.AppNames, Timeout: 5 * time.Minute, Settle: arrival.StreamSettle, Objects: true,
			Adopted: t.adopted}
	}
	if env.NotifyTopic != "" && t.Account != nil {
		cfg.Notify = adapters.SNSNotifier{SNS: sns.NewFromConfig(t.Account.cfg, func(o *sns.Options) { o.Region = t.DRRegion }), Topic: env.NotifyTopic}
	}
	return failover.New(cfg), nil
}

// adopted is what protect apply adopted on this deployment (its applied
// plans): the global tables and the replicated buckets a failback's drain
// proves, as it proves pilotlight's own.
func (t *AWS) adopted(context.Context) (arrival.Adopted, error) {
	var a arrival.Adopted
	if t.ProtectDir == "" {
		return a, nil
	}
	plans, err := protect.Applied(t.ProtectDir, t.PrimaryRegion, t.DRRegion)
	if err != nil {
		return a, err
	}
	for _, p := range plans {
		a.Tables = append(a.Tables, p.Inventory.TableNames()...)
		for _, b := range p.Inventory.BucketNames() {
			a.Buckets = append(a.Buckets, map[string]string{t.PrimaryRegion: b, t.DRRegion: protect.ReplicaName(b, t.DRRegion)})
		}
	}
	return a, nil
}

// Invoke calls one of the deployment's functions with Lambda.
// Lambda is a Lambda control-plane client of a region (protect scans the
// user's functions with it); nil without an AWS connection.
func (t *AWS) Lambda(regionName string) *lambda.Client {
	if t.Account == nil {
		return nil
	}
	return lambda.NewFromConfig(t.Account.cfg, func(o *lambda.Options) { o.Region = regionName })
}

// AutoScaling is a client of a region's Application Auto Scaling (nil
// without a connection): protect scan reads provisioned tables' scaling.
func (t *AWS) AutoScaling(regionName string) *applicationautoscaling.Client {
	if t.Account == nil {
		return nil
	}
	return applicationautoscaling.NewFromConfig(t.Account.cfg, func(o *applicationautoscaling.Options) { o.Region = regionName })
}

func (t *AWS) Invoke(ctx context.Context, regionName, function string, payload []byte) ([]byte, error) {
	if t.Account == nil {
		return nil, errors.New("no AWS connection: build the target with Connect")
	}
	c := lambda.NewFromConfig(t.Account.cfg, func(o *lambda.Options) { o.Region = regionName })
	name := t.AppNames.Function(function)
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoke %s in %s: %w", name, regionName, err)
	}
	if out.FunctionError != nil {
		return nil, fmt.Errorf("%s in %s failed (%s): %s", name, regionName, aws.ToString(out.FunctionError), out.Payload)
	}
	return out.Payload, nil
}

// Observe reads what the DR region's health check last reported to
// CloudWatch: the primary's health and replication lag.
func (t *AWS) Observe(ctx context.Context) (target.Observation, error) {
	if t.Account == nil {
		return target.Observation{}, nil
	}
	cw := cloudwatch.NewFromConfig(t.Account.cfg, func(o *cloudwatch.Options) { o.Region = t.DRRegion })
	return target.Observation{Health: ReadHealth(ctx, cw, t.PrimaryRegion, t.DRRegion, time.Now())}, nil
}

// ReadHealth reads the DR region's health check metrics.
func ReadHealth(ctx context.Context, cw metrics.StatisticsReader, primary, dr string, now time.Time) *target.Health {
	h := &target.Health{}
	var err1, err2 error
	h.PrimaryHealthy, err1 = metrics.Latest(ctx, cw, metrics.RegionHealthy, map[string]string{"Region": dr, "Target": primary}, cwtypes.StatisticMinimum, 10*time.Minute, now)
	h.ReplicationLagMs, err2 = metrics.Latest(ctx, cw, metrics.ReplicationLagMs, map[string]string{"Region": dr, "Source": primary}, cwtypes.StatisticMaximum, 10*time.Minute, now)
	if err := errors.Join(err1, err2); err != nil {
		h.Error = err.Error()
	}
	return h
}

// Connect connects to the account the settings' credentials belong to
// and returns the target of the deployment there.
func Connect(ctx context.Context, s config.Settings) (*AWS, error) {
	a, err := ConnectAccount(ctx, s)
	if err != nil {
		return nil, err
	}
	names := a.Names(s.AppName)
	t := &AWS{PrimaryRegion: s.PrimaryRegion, DRRegion: s.DRRegion, AppNames: names, Account: a, ProtectDir: s.ProtectDir,
		DataClients: map[string]*region.Clients{}, Credentials: a.cfg.Credentials,
		Outage: deploy.Outage{IAM: a.IAM(), Names: names}}
	for _, r := range []string{t.PrimaryRegion, t.DRRegion} {
		if t.DataClients[r], err = region.New(a.Spec(r, 0)); err != nil {
			return nil, err
		}
	}
	return t, nil
}
