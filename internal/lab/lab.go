package lab

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/health"
	"github.com/pilotlight/pilotlight/internal/lab/access"
	"github.com/pilotlight/pilotlight/internal/lab/alarm"
	"github.com/pilotlight/pilotlight/internal/lab/faults"
	"github.com/pilotlight/pilotlight/internal/lab/fnenv"
	"github.com/pilotlight/pilotlight/internal/lab/front"
	"github.com/pilotlight/pilotlight/internal/lab/functions"
	"github.com/pilotlight/pilotlight/internal/lab/lambdaplane"
	"github.com/pilotlight/pilotlight/internal/lab/provision"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/lab/replication/objects"
	"github.com/pilotlight/pilotlight/internal/lab/replication/tables"
	"github.com/pilotlight/pilotlight/internal/lab/routing"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/timeline"
)

// Options configures a lab.
type Options struct {
	Primary, DR string // region names, e.g. us-east-1 and us-west-2
	// CheckEnv, when set, sees every function's environment before the
	// functions start; an error stops the lab (parity.Check holds the
	// lab to the templates).
	CheckEnv func(fnenv.Check) error
	// Access, when set, gives each function its template role (parity.
	// Access): the lab then enforces the roles' policies (package access).
	Access func(fnenv.Check) (access.Access, error)
	// Resources, when set, gives the tables and buckets to create, from the
	// templates (parity.Resources); unset, the lab creates its own.
	Resources func(fnenv.Check) (provision.Resources, error)
	// Witness is the third region that holds only a control table, the
	// tie-breaker of the write lease ("" means DefaultWitness; "none" runs
	// without one: split-brain protection is then best effort).
	Witness  string
	Names    region.Names  // resource names
	Dir      string        // state, logs and data; created if missing
	Servers  server.Paths  // from server.Find or server.Ensure
	BasePort int           // 0: free ports; else primary dynamodb, primary s3, dr dynamodb, dr s3, control
	Lag      time.Duration // replication lag added by the replicators
	// DynamoDBHeapMB is each DynamoDB Local's Java heap (default 192, enough
	// for tens of thousands of items; its in-memory tables live on the heap,
	// so large tables need more: about 1 MB per 1,000 small items).
	DynamoDBHeapMB int
	Logger         *slog.Logger
	// Functions, when Functions.Dir is set, runs the orders service, the
	// health check and the failover controller under the Lambda runtime
	// interface emulator, with the scheduler, the alarm and the front door.
	Functions FunctionOptions
}

// Credentials are the lab's static credentials, random per lab.
type Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// Endpoints are a lab region's public (proxied) endpoints.
type Endpoints struct {
	DynamoDB string `json:"dynamodb"`
	S3       string `json:"s3"`
	// Lambda is the region's Lambda control plane for the user's own
	// functions ("" for the witness).
	Lambda string `json:"lambda,omitempty"`
}

// Lab is a running two-region lab. Its methods are safe for concurrent use.
type Lab struct {
	opts    Options
	creds   Credentials
	log     *slog.Logger
	inj     *faults.Injector // the fault proxies and the faults on them
	regions []*labRegion     // primary first
	witness *labRegion       // nil without a witness

	repl *replication.Set

	// functions, front door, alarm, scheduler (when enabled)
	pools        map[string]*functions.Pool // "region/name"
	timeServer   net.PacketConn             // SNTP on the true clock: the lab's time.aws.com
	frontDoor    *routing.FrontDoor
	frontDoorURL string
	alarm        *alarm.Alarm
	fnCancel     context.CancelFunc
	fnWG         sync.WaitGroup
	// controllerEnv is the PILOTLIGHT_* environment the lab gave the DR
	// region's failover controller: the deployment's one description.
	controllerEnv map[string]string

	mu sync.Mutex
	// crashAfter is the armed controller crash's phase ("" when none).
	crashAfter string
	// lateHealth: until when a region's health-check runs are dropped one
	// in three (the late-health-check fault); lateRuns counts its runs.
	lateHealth map[string]time.Time
	lateRuns   map[string]int
	events     []timeline.Event
	// points are the EMF datapoints the functions logged (the newest
	// maxPoints): the lab's CloudWatch metrics, for alarm.Rule.
	points     []metrics.Datapoint
	auth       atomic.Pointer[access.Authorizer] // set when Options.Access is
	denials    atomic.Int64
	lastDenial atomic.Value // string
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closed     bool
}

func (l *Lab) event(kind, regionName, detail string) {
	e := timeline.Event{At: time.Now().UTC(), Kind: kind, Region: regionName, Detail: detail}
	l.mu.Lock()
	l.events = append(l.events, e)
	if len(l.events) > 10000 {
		l.events = l.events[len(l.events)-5000:]
	}
	l.mu.Unlock()
	l.log.Info(detail, "kind", kind, "region", regionName)
}

// accessDenied records a request the templates' IAM refused.
func (l *Lab) accessDenied(d access.Denial) {
	l.denials.Add(1)
	l.lastDenial.Store(d.Region + ": " + d.String())
	l.event("access-denied", d.Region, d.String())
}

// Denials is how many requests the templates' IAM has refused.
func (l *Lab) Denials() int64 { return l.denials.Load() }

// Events returns the events since t.
func (l *Lab) Events(since time.Time) []timeline.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []timeline.Event
	for _, e := range l.events {
		if e.At.After(since) {
			out = append(out, e)
		}
	}
	return out
}

// FrontDoorURL is the lab's routed entry point for clients ("" when
// functions are off).
func (l *Lab) FrontDoorURL() string { return l.frontDoorURL }

// ControllerEnv is the PILOTLIGHT_* environment of the DR region's failover
// controller (nil when the lab runs no functions): every controller of this
// lab — the function's, the CLI's, a drill's — is built from it, so none
// can run with another lease or witness than the function.
func (l *Lab) ControllerEnv() map[string]string { return maps.Clone(l.controllerEnv) }

// DefaultWitness is the lab's witness region when none is named.
const DefaultWitness = "us-east-2"

type labRegion struct {
	name     string
	witness  bool               // a control table only: DynamoDB, no S3, no functions
	front    *front.WriteFront  // notes write times, between the fault proxy and DynamoDB Local
	objFront *front.ChangeFront // notes new object versions, between the fault proxy and versitygw
	ddb, s3  *server.Process
	ep       Endpoints
	clients  *region.Clients // through the proxies, default retries
	dataDir  string
	backends Endpoints
	lambda   *lambdaplane.Plane
}

// Start obtains ports, starts both regions' servers and proxies, provisions
// tables and buckets, and starts the replicators. On error everything started
// so far is stopped.
func Start(ctx context.Context, opts Options) (l *Lab, err error) {
	if opts.Primary == "" || opts.DR == "" || opts.Primary == opts.DR {
		return nil, fmt.Errorf("lab: need two different regions, got %q and %q", opts.Primary, opts.DR)
	}
	switch opts.Witness {
	case "":
		opts.Witness = DefaultWitness
	case "none":
		opts.Witness = ""
	}
	if opts.Witness == opts.Primary || opts.Witness == opts.DR {
		return nil, fmt.Errorf("lab: the witness region %s is also the primary or the DR region: pick a third region (default %s) or none", opts.Witness, DefaultWitness)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Names.App == "" {
		opts.Names.App = "pilotlight"
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	for _, d := range []string{"logs", "data", "replication"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("lab dir: %w", err)
		}
	}
	self := &Lab{
		opts:  opts,
		creds: Credentials{AccessKeyID: "LAB" + strings.ToUpper(randomHex(8)), SecretAccessKey: randomHex(20)},
		log:   opts.Logger.With("component", "lab"),
		inj:   faults.New(opts.Logger.With("component", "faults")),
	}
	l = self
	defer func() {
		if err != nil {
			self.Close()
		}
	}()
	ports, err := l.pickPorts()
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	l.regions = make([]*labRegion, 2)
	for i, name := range []string{opts.Primary, opts.DR} {
		l.regions[i] = &labRegion{name: name}
		l.inj.Region(name, false)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = l.startRegion(ctx, l.regions[i], ports[2*i], ports[2*i+1])
		}(i)
	}
	if opts.Witness != "" {
		l.witness = &labRegion{name: opts.Witness, witness: true}
		l.inj.Region(opts.Witness, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[2] = l.startRegion(ctx, l.witness, ports[4], 0)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := l.provision(ctx); err != nil {
		return nil, err
	}
	if err := l.startReplication(ctx); err != nil {
		return nil, err
	}
	if err := l.startLambda(); err != nil {
		return nil, err
	}
	// The health checks measure their clock (the clock-skew fault shifts
	// it) against a time server on the true clock: the lab's time.aws.com.
	if l.timeServer, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("lab time server: %w", err)
	}
	go health.ServeTime(l.timeServer, time.Now)
	if opts.Functions.Dir != "" {
		if err := l.startServing(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// startReplication starts the replicators from their saved positions.
func (l *Lab) startReplication(ctx context.Context) error {
	cfg := replication.Config{Dir: filepath.Join(l.opts.Dir, "replication"), Names: l.opts.Names, Lag: l.opts.Lag, Log: l.log,
		Cut: l.isCut, Event: func(d string) { l.event("replication", "", d) }}
	for i, r := range l.regions {
		// The table replicator's writes name themselves, so the region's
		// write-time front does not take them for users' writes.
		spec := l.Spec(r.name, r.ep, 1)
		spec.UserAgent = front.ReplicatorAgent
		c, err := region.New(spec)
		if err != nil {
			return err
		}
		cfg.Tables[i] = tables.Region{Name: r.name, Clients: c}
		if r.front != nil {
			cfg.Tables[i].WriteTime = r.front.WriteTime
		}
		cfg.Objects[i] = objects.Region{Name: r.name, Clients: r.clients, Changes: r.objFront}
	}
	set, err := replication.Start(ctx, cfg)
	if err != nil {
		return err
	}
	l.repl = set
	for _, r := range l.regions {
		if r.front != nil {
			name := r.name
			r.front.SetReadThrough(func() time.Time { return set.ReadThrough(name) })
		}
	}
	return nil
}

// startServing starts the front door, the functions, the alarm and the
// scheduler.
func (l *Lab) startServing(ctx context.Context) error {
	l.opts.Functions = l.opts.Functions.withDefaults()
	addr := "127.0.0.1:0"
	if l.opts.BasePort != 0 {
		addr = "127.0.0.1:" + strconv.Itoa(l.opts.BasePort+5)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &server.PortInUseError{Port: l.opts.BasePort + 5}
	}
	l.frontDoorURL = "http://" + ln.Addr().String()
	fo := l.opts.Functions
	l.frontDoor = routing.Start(ln, routing.Config{Primary: l.opts.Primary, DR: l.opts.DR,
		Interval: fo.RouteInterval, Threshold: fo.RouteThreshold, TTL: fo.RouteTTL,
		App: l.opts.Names.Function(FnApp), AppFunction: FnApp, Invoke: l.Invoke, Event: l.event,
		Gate: func(r, fn string, w http.ResponseWriter, req *http.Request) bool {
			a := l.auth.Load()
			return a == nil || a.FunctionURL(r, fn, w, req)
		},
		Alarm: func() (string, string) {
			if a := l.alarm; a != nil {
				return a.State()
			}
			return "", "INSUFFICIENT_DATA"
		}})
	if err := l.startFunctions(ctx); err != nil {
		return err
	}
	// Warm every app instance at once, as provisioned concurrency would:
	// as many concurrent invocations as instances reach each one once.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2*l.opts.Functions.AppConcurrency)
	for _, r := range l.Regions() {
		for range l.opts.Functions.AppConcurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := routing.InvokeHTTP(wctx, l.Invoke, FnApp, r, "GET", "/health", nil); err != nil {
					errs <- fmt.Errorf("warm app in %s: %w", r, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	// The primary's first lease, before the alarm and the front door judge
	// its /health (which fails without one); its health check renews it
	// from here on. On AWS the first health-check run does this, minutes
	// before an alarm could fire.
	if err := l.firstLease(ctx); err != nil {
		return err
	}
	l.alarm = alarm.New(alarm.Config{Name: l.opts.Names.PrimaryAlarm(), Primary: l.opts.Primary, DR: l.opts.DR,
		Period: fo.HealthInterval, Periods: fo.AlarmPeriods, Controller: FnController, Invoke: l.Invoke, Event: l.event})
	fctx, cancel := context.WithCancel(context.Background())
	l.fnCancel = cancel
	l.fnWG.Add(3)
	go func() { defer l.fnWG.Done(); l.frontDoor.Run(fctx) }()
	go func() { defer l.fnWG.Done(); l.alarm.Run(fctx) }()
	go func() { defer l.fnWG.Done(); alarm.Schedule(fctx, fo.HealthInterval, l.scheduled(), l.scheduledInvoke) }()
	return nil
}

// scheduledInvoke is the schedules' invoke: the late-health-check fault
// drops one in three of a region's health-check runs while it lasts (a
// late or lost EventBridge delivery).
func (l *Lab) scheduledInvoke(ctx context.Context, regionName, name string, payload []byte) ([]byte, error) {
	if name == FnHealth {
		l.mu.Lock()
		until, late := l.lateHealth[regionName]
		drop := false
		if late && time.Now().Before(until) {
			l.lateRuns[regionName]++
			drop = l.lateRuns[regionName]%3 == 1
		}
		l.mu.Unlock()
		if drop {
			return nil, nil
		}
	}
	return l.Invoke(ctx, regionName, name, payload)
}

// LateHealthChecks drops one in three of a region's scheduled health-check
// runs for d: a run that EventBridge delivers late, or not at all.
func (l *Lab) LateHealthChecks(regionName string, d time.Duration) error {
	r, err := l.region(regionName)
	if err != nil {
		return err
	}
	if d <= 0 || d > 10*time.Minute {
		return fmt.Errorf("late health checks for %s: give a duration between 0 and 10m", d)
	}
	l.mu.Lock()
	if l.lateHealth == nil {
		l.lateHealth, l.lateRuns = map[string]time.Time{}, map[string]int{}
	}
	l.lateHealth[r.name], l.lateRuns[r.name] = time.Now().Add(d), 0
	l.mu.Unlock()
	l.event("fault", r.name, fmt.Sprintf("one in three scheduled health-check runs dropped for %s", d))
	return nil
}

// stopReplication stops the replicators; each saves its position.
func (l *Lab) stopReplication() {
	if l.repl != nil {
		l.repl.Stop()
	}
}

// pickPorts returns the public ports: dynamodb and s3 of each region.
func (l *Lab) pickPorts() ([]int, error) {
	ports := make([]int, 5)
	for i := range ports {
		if l.opts.BasePort != 0 {
			ports[i] = l.opts.BasePort + i
			if i == 4 {
				ports[i] = l.opts.BasePort + 6 // +4 control, +5 front door
			}
			if err := server.CheckPortFree(ports[i]); err != nil {
				return nil, err
			}
			continue
		}
		p, err := server.FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	return ports, nil
}

func (l *Lab) startRegion(ctx context.Context, r *labRegion, ddbPort, s3Port int) error {
	logs := filepath.Join(l.opts.Dir, "logs")
	r.dataDir = filepath.Join(l.opts.Dir, "data", r.name)
	_ = os.RemoveAll(r.dataDir)
	for _, d := range []string{"s3", "s3-versions"} {
		if err := os.MkdirAll(filepath.Join(r.dataDir, d), 0o755); err != nil {
			return err
		}
	}
	sv := l.opts.Servers
	var err error
	r.ddb, err = server.RetryPorts(func() (*server.Process, error) {
		bd, err := server.FreePort()
		if err != nil {
			return nil, err
		}
		r.backends.DynamoDB = "127.0.0.1:" + strconv.Itoa(bd)
		// C1 only (-XX:TieredStopAtLevel=1): three JVMs starting at once on
		// a small machine spend their first seconds compiling with C2;
		// without it `lab up` takes ~11-13 s here, with it ~8 s, and the
		// replication lag at 1,000 writes/s is the same (bench/lab).
		return server.Start(ctx, "dynamodb-local "+r.name, filepath.Join(logs, "dynamodb-"+r.name+".log"), sv.DynamoDBDir, r.backends.DynamoDB,
			sv.Java, "-Xmx"+strconv.Itoa(cmp.Or(l.opts.DynamoDBHeapMB, 192))+"m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
			"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(bd))
	})
	if err != nil {
		return err
	}
	if r.witness {
		// The witness holds no replicated table: its front only gates.
		if r.front, err = front.StartWriteFront(r.backends.DynamoDB, "", nil); err != nil {
			return fmt.Errorf("front %s: %w", r.name, err)
		}
		r.front.Gate = l.dynamoDBGate(r.name)
		if err := l.proxy(r.name, region.DynamoDB, &ddbPort, r.front.Addr); err != nil {
			return err
		}
		r.ep = Endpoints{DynamoDB: "http://127.0.0.1:" + strconv.Itoa(ddbPort)}
		r.clients, err = region.New(l.Spec(r.name, r.ep, 0))
		return err
	}
	r.s3, err = server.RetryPorts(func() (*server.Process, error) {
		bs, err := server.FreePort()
		if err != nil {
			return nil, err
		}
		r.backends.S3 = "127.0.0.1:" + strconv.Itoa(bs)
		return server.Start(ctx, "versitygw "+r.name, filepath.Join(logs, "s3-"+r.name+".log"), r.dataDir, r.backends.S3,
			sv.Versitygw, "--access", l.creds.AccessKeyID, "--secret", l.creds.SecretAccessKey, "--region", r.name,
			"--port", r.backends.S3, "posix", "--versioning-dir", filepath.Join(r.dataDir, "s3-versions"), filepath.Join(r.dataDir, "s3"))
	})
	if err != nil {
		return err
	}
	r.front, err = front.StartWriteFront(r.backends.DynamoDB, l.opts.Names.Table(), []string{region.TableHashKey})
	if err != nil {
		return fmt.Errorf("write-time front %s: %w", r.name, err)
	}
	r.front.Observe = l.observeControlWrite
	r.front.Gate = l.dynamoDBGate(r.name)
	r.objFront, err = front.StartChangeFront(r.backends.S3)
	if err != nil {
		return fmt.Errorf("change front %s: %w", r.name, err)
	}
	r.objFront.Gate = func(w http.ResponseWriter, req *http.Request) bool {
		if a := l.auth.Load(); a != nil {
			return a.S3(r.name, w, req)
		}
		return true
	}
	for svc, p := range map[region.Service]struct {
		port     *int
		upstream string
	}{region.DynamoDB: {&ddbPort, r.front.Addr}, region.S3: {&s3Port, r.objFront.Addr}} {
		if err := l.proxy(r.name, svc, p.port, p.upstream); err != nil {
			return err
		}
	}
	r.ep = Endpoints{DynamoDB: "http://127.0.0.1:" + strconv.Itoa(ddbPort), S3: "http://127.0.0.1:" + strconv.Itoa(s3Port)}
	r.clients, err = l.Clients(r.name, 0)
	return err
}

// proxy puts a region's fault proxy on *port. A free port (no base port
// set) can be taken between its choice and the listen — a client's
// ephemeral port, in another process — so another is chosen, twice at
// most; a configured port is the user's to free.
func (l *Lab) proxy(regionName string, svc region.Service, port *int, upstream string) error {
	for attempt := 1; ; attempt++ {
		err := l.inj.Proxy(regionName, svc, "127.0.0.1:"+strconv.Itoa(*port), upstream)
		var taken *server.PortInUseError
		if err == nil || l.opts.BasePort != 0 || attempt == 3 || !errors.As(err, &taken) {
			return err
		}
		p, ferr := server.FreePort()
		if ferr != nil {
			return err
		}
		*port = p
	}
}

// dynamoDBGate holds a region's DynamoDB requests to the templates' IAM,
// once the functions have their roles.
func (l *Lab) dynamoDBGate(regionName string) func(http.ResponseWriter, *http.Request, []byte) bool {
	return func(w http.ResponseWriter, req *http.Request, body []byte) bool {
		if a := l.auth.Load(); a != nil {
			return a.DynamoDB(regionName, w, req, body)
		}
		return true
	}
}

// Clients returns new SDK clients for a lab region, through its proxies.
// maxAttempts 1 is for probes; 0 keeps the SDK's retries.
func (l *Lab) Clients(name string, maxAttempts int) (*region.Clients, error) {
	r, err := l.region(name)
	if err != nil {
		return nil, err
	}
	return region.New(l.Spec(r.name, r.ep, maxAttempts))
}

// Spec is the region.Spec of a lab region, given its endpoints.
func (l *Lab) Spec(name string, ep Endpoints, maxAttempts int) region.Spec {
	return LabSpec(name, ep, l.creds, maxAttempts)
}

// LabSpec builds the region.Spec for a lab region from its endpoints and the
// lab credentials (as found in the lab's state file).
func LabSpec(name string, ep Endpoints, creds Credentials, maxAttempts int) region.Spec {
	if ep.S3 == "" {
		// The witness has no S3: a closed local port, never a default AWS
		// endpoint.
		ep.S3 = "http://127.0.0.1:1"
	}
	return region.Spec{
		Name:        name,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		Endpoints:   map[region.Service]string{region.DynamoDB: ep.DynamoDB, region.S3: ep.S3},
		MaxAttempts: maxAttempts,
		DialTimeout: time.Second,
		Local:       true,
		UserAgent:   "pilotlight-lab",
	}
}

func (l *Lab) region(name string) (*labRegion, error) {
	for _, r := range l.allRegions() {
		if r.name == name {
			return r, nil
		}
	}
	if l.witness != nil {
		return nil, fmt.Errorf("no lab region %q: the lab runs %s and %s, with the witness %s", name, l.opts.Primary, l.opts.DR, l.witness.name)
	}
	return nil, fmt.Errorf("no lab region %q: the lab runs %s and %s", name, l.opts.Primary, l.opts.DR)
}

// allRegions is the application regions and the witness.
func (l *Lab) allRegions() []*labRegion {
	var out []*labRegion
	for _, r := range append(append([]*labRegion{}, l.regions...), l.witness) {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Witness is the witness region's name ("" without one).
func (l *Lab) Witness() string {
	if l.witness == nil {
		return ""
	}
	return l.witness.name
}

// Regions returns the region names, primary first.
func (l *Lab) Regions() []string { return []string{l.opts.Primary, l.opts.DR} }

// Names returns the resource names the lab provisioned.
func (l *Lab) Names() region.Names { return l.opts.Names }

// Credentials returns the lab's static credentials.
func (l *Lab) Credentials() Credentials { return l.creds }

// Endpoints returns a region's public endpoints.
func (l *Lab) Endpoints(name string) (Endpoints, error) {
	r, err := l.region(name)
	if err != nil {
		return Endpoints{}, err
	}
	return r.ep, nil
}

// RegionInfo is what another process needs of a running region.
type RegionInfo struct {
	Name      string
	Witness   bool // a control table only
	Endpoints Endpoints
	Pids      map[string]int // service -> server pid
	// Behind is the DynamoDB endpoint behind the region's fault proxy
	// (the write-time front); "" for the witness.
	Behind string
}

// Layout describes every region, the witness last.
func (l *Lab) Layout() []RegionInfo {
	var out []RegionInfo
	for _, r := range l.allRegions() {
		ri := RegionInfo{Name: r.name, Witness: r.witness, Endpoints: r.ep, Pids: map[string]int{"dynamodb": r.ddb.Pid()}}
		if !r.witness {
			ri.Pids["s3"], ri.Behind = r.s3.Pid(), "http://"+r.front.Addr
		}
		out = append(out, ri)
	}
	return out
}

// Close stops the replicators (saving their positions), the proxies and the
// servers. It is safe to call more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	if l.fnCancel != nil {
		l.fnCancel()
		l.fnWG.Wait()
	}
	if l.frontDoor != nil {
		l.frontDoor.Close()
	}
	l.stopFunctions()
	l.stopLambda()
	if l.timeServer != nil {
		l.timeServer.Close()
	}
	l.stopReplication()
	l.inj.Close()
	var wg sync.WaitGroup
	for _, r := range l.allRegions() {
		r.front.Close()
		r.objFront.Close()
		for _, s := range []*server.Process{r.ddb, r.s3} {
			if s != nil {
				wg.Add(1)
				go func(s *server.Process) { defer wg.Done(); s.Stop() }(s)
			}
		}
	}
	wg.Wait()
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// scheduled are the schedules' jobs: the health check in both regions every
// interval, and the controller's tick every interval too (it resumes a run
// whose controller died, so a crash costs at most one interval).
func (l *Lab) scheduled() []alarm.Job {
	return []alarm.Job{{Region: l.opts.Primary, Function: FnHealth, Overlap: 2}, {Region: l.opts.DR, Function: FnHealth, Overlap: 2}, {Region: l.opts.DR, Function: FnController}}
}
