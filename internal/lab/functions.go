package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/lab/access"
	"github.com/pilotlight/pilotlight/internal/lab/fnenv"
	"github.com/pilotlight/pilotlight/internal/lab/functions"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/region"
)

// The functions' short names (package region owns them).
const (
	FnApp        = region.FnApp
	FnHealth     = region.FnHealth
	FnController = region.FnController
	FnValidator  = region.FnValidator
	FnBackup     = region.FnBackup
)

// FunctionNames lists the functions the lab runs: all of them.
var FunctionNames = region.Functions

// LeaseConfig is the lab's write lease: term + ε + δ = 3 s, the lab's
// detection window (3 one-second alarm periods).
var LeaseConfig = control.LabLease

// clockFile holds a region's clock offset (the clock-skew fault); the
// region's functions read their time through it.
func (l *Lab) clockFile(regionName string) string {
	return filepath.Join(l.opts.Dir, "clock", regionName)
}

// FunctionOptions turns on the functions, scheduler, alarm and front door.
// The zero value leaves them off (replication-only lab).
type FunctionOptions struct {
	Dir            string        // holds <name>/bootstrap for each function
	AppConcurrency int           // app instances per region (Lambda concurrency); 0 means 12
	HealthInterval time.Duration // health-check schedule and alarm period; 0 means 1s
	AlarmPeriods   int           // evaluation periods = datapoints to alarm; 0 means 3
	RouteInterval  time.Duration // front-door health-check interval; 0 means 1s
	RouteThreshold int           // consecutive results to flip; 0 means 3
	RouteTTL       time.Duration // how long clients keep an answer; 0 means 1s
	MinDwell       time.Duration // controller's minimum time between switches
	Manual         bool          // alarm only notifies; a person runs `pilotlight failover`
}

// AgreementWait is how long a failover waits for the front door to agree
// the primary is down: its own detection (threshold × interval) and 2 s.
func (f FunctionOptions) AgreementWait() time.Duration {
	f = f.withDefaults()
	return time.Duration(f.RouteThreshold)*f.RouteInterval + 2*time.Second
}

func (f FunctionOptions) withDefaults() FunctionOptions {
	if f.AppConcurrency == 0 {
		f.AppConcurrency = 12
	}
	if f.HealthInterval == 0 {
		f.HealthInterval = time.Second
	}
	if f.AlarmPeriods == 0 {
		f.AlarmPeriods = 3
	}
	if f.RouteInterval == 0 {
		f.RouteInterval = time.Second
	}
	if f.RouteThreshold == 0 {
		f.RouteThreshold = 3
	}
	if f.RouteTTL == 0 {
		f.RouteTTL = time.Second
	}
	return f
}

// CheckFunctions reports whether dir holds every function's bootstrap.
func CheckFunctions(dir string) error {
	for _, n := range FunctionNames {
		if _, err := os.Stat(filepath.Join(dir, n, "bootstrap")); err != nil {
			return &server.SetupError{What: "function " + n + " not built in " + dir, Hint: "run `make build` (builds bin/functions/<name>/bootstrap)"}
		}
	}
	return nil
}

// fnSpec is one function the lab runs in one region, with its
// concurrency.
type fnSpec struct {
	region, name string
	n            int
}

// startFunctions starts every function of both regions under the
// emulator, each with the environment the templates give it (checked
// against them) and the key of its template role.
func (l *Lab) startFunctions(ctx context.Context) error {
	fo := l.opts.Functions
	if err := CheckFunctions(fo.Dir); err != nil {
		return err
	}
	l.pools = map[string]*functions.Pool{}
	if err := os.MkdirAll(filepath.Join(l.opts.Dir, "clock"), 0o755); err != nil {
		return err
	}
	var specs []fnSpec
	for _, r := range l.regions {
		specs = append(specs, fnSpec{r.name, FnApp, fo.AppConcurrency}, fnSpec{r.name, FnHealth, 2}, fnSpec{r.name, FnBackup, 1})
	}
	// The controller and the validator run in the DR region: neither may
	// depend on the region it judges.
	specs = append(specs, fnSpec{l.opts.DR, FnController, 1}, fnSpec{l.opts.DR, FnValidator, 1})
	witnessName := ""
	if l.witness != nil {
		witnessName = l.witness.name
	}
	check := fnenv.Check{Names: l.opts.Names, Primary: l.opts.Primary, DR: l.opts.DR, Witness: witnessName, Manual: fo.Manual,
		AppURL: func(r string) string { return fnenv.AppURL(l.frontDoorURL, r) },
		// the schedules and the alarm (package alarm): one interval for probes, ticks and
		// alarm periods; missing data breaches.
		Schedule: fnenv.Schedule{HealthInterval: fo.HealthInterval, ReconcileEvery: fo.HealthInterval, AlarmPeriod: fo.HealthInterval,
			AlarmPeriods: fo.AlarmPeriods, AlarmMissing: "breaching"}}
	// Each function runs as its template role: a key of its own, which the
	// fronts hold to the role's policies.
	if grants := l.opts.Access; grants != nil {
		acc, err := grants(check)
		if err != nil {
			return fmt.Errorf("the templates' IAM: %w", err)
		}
		l.auth.Store(access.New(acc, aws.Credentials{AccessKeyID: l.creds.AccessKeyID, SecretAccessKey: l.creds.SecretAccessKey}, l.accessDenied))
	}
	labEnvs, err := l.functionEnvs(specs)
	if err != nil {
		return err
	}
	l.controllerEnv = map[string]string{}
	for _, kv := range labEnvs[l.opts.DR+"/"+FnController] {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PILOTLIGHT_") || k == "AWS_REGION" {
			l.controllerEnv[k] = v
		}
	}
	// What the lab runs must be what the templates deploy, but for the
	// listed overrides.
	if hold := l.opts.CheckEnv; hold != nil {
		check.Envs = labEnvs
		if err := hold(check); err != nil {
			return err
		}
	}
	return l.startPools(ctx, specs, labEnvs)
}

// linkedEndpoints are each region's view of every region's endpoints, as
// JSON (PILOTLIGHT_ENDPOINTS): its own directly, the others through a link
// proxy of its own, so the lab can cut the link between two regions while
// clients reach both (a partition).
func (l *Lab) linkedEndpoints() (map[string][]byte, error) {
	endpoints := map[string]map[string]string{}
	for _, r := range l.regions {
		endpoints[r.name] = map[string]string{"dynamodb": r.ep.DynamoDB, "s3": r.ep.S3}
	}
	if w := l.witness; w != nil {
		endpoints[w.name] = map[string]string{"dynamodb": w.ep.DynamoDB}
	}
	out := map[string][]byte{}
	for _, r := range l.regions {
		own := map[string]map[string]string{}
		for name, ep := range endpoints {
			if name == r.name {
				own[name] = ep
				continue
			}
			linked := map[string]string{}
			for svc, u := range ep {
				lu, err := l.inj.Link(r.name, name, region.Service(svc), u)
				if err != nil {
					return nil, err
				}
				linked[svc] = lu
			}
			own[name] = linked
		}
		out[r.name], _ = json.Marshal(own)
	}
	return out, nil
}

// functionEnvs is each function's lab environment, by "region/name": the
// region, its role's key, the endpoints, the lease, the schedules.
func (l *Lab) functionEnvs(specs []fnSpec) (map[string][]string, error) {
	fo := l.opts.Functions
	epJSON, err := l.linkedEndpoints()
	if err != nil {
		return nil, err
	}
	d := fnenv.Deployment{Names: l.opts.Names, Primary: l.opts.Primary, DR: l.opts.DR, FrontDoor: l.frontDoorURL, Endpoints: epJSON,
		NotifyFile: filepath.Join(l.opts.Dir, "notifications.log"), ClockFile: l.clockFile, TimeServer: l.timeServer.LocalAddr().String(),
		Lease: LeaseConfig, MinDwell: fo.MinDwell, AgreementWait: fo.AgreementWait(), HealthInterval: fo.HealthInterval, Manual: fo.Manual}
	if l.witness != nil {
		d.Witness = l.witness.name
	}
	labEnvs := map[string][]string{}
	for _, sp := range specs {
		creds := l.creds
		if a := l.auth.Load(); a != nil {
			c, ok := a.Credentials(sp.region, sp.name)
			if !ok {
				return nil, fmt.Errorf("the templates give %s in %s no role", sp.name, sp.region)
			}
			creds = Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
		}
		labEnvs[sp.region+"/"+sp.name] = d.Env(sp.region, sp.name, creds.AccessKeyID, creds.SecretAccessKey)
	}
	return labEnvs, nil
}

// startPools starts every function's instances at once.
func (l *Lab) startPools(ctx context.Context, specs []fnSpec, labEnvs map[string][]string) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, sp := range specs {
		spec := functions.Spec{Region: sp.region, Name: sp.name, N: sp.n, Env: append(os.Environ(), labEnvs[sp.region+"/"+sp.name]...),
			Dir: filepath.Join(l.opts.Functions.Dir, sp.name), RIE: l.opts.Servers.RIE, Log: l.log,
			LogPath: func(i int) string {
				return filepath.Join(l.opts.Dir, "logs", fmt.Sprintf("fn-%s-%s-%d.log", sp.region, sp.name, i))
			}}
		if sp.name != FnApp {
			// The orders service logs no metrics (and a line per request).
			spec.Line = l.functionLog
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := functions.Start(ctx, spec)
			mu.Lock()
			defer mu.Unlock()
			l.pools[sp.region+"/"+sp.name] = p
			errs = append(errs, err)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Invoke calls a function in a region over the Lambda invoke path, waiting
// for a free instance. A cut region's functions fail fast; a latency fault
// delays the call.
func (l *Lab) Invoke(ctx context.Context, regionName, name string, payload []byte) ([]byte, error) {
	if err := l.lambdaGate(ctx, regionName); err != nil {
		return nil, fmt.Errorf("invoke %s in %s: %w", name, regionName, err)
	}
	p, ok := l.pools[regionName+"/"+name]
	if !ok {
		return nil, fmt.Errorf("no function %s in %s", name, regionName)
	}
	return p.Invoke(ctx, payload)
}

// functionLog receives each line a function writes to stdout (its log):
// EMF lines feed the alarm evaluator, as CloudWatch Logs feeds CloudWatch.
func (l *Lab) functionLog(line string) {
	points, err := metrics.Parse([]byte(line), metrics.Namespace)
	if err != nil || len(points) == 0 {
		return
	}
	if l.alarm != nil {
		l.alarm.Consume(points)
	}
	l.mu.Lock()
	l.points = append(l.points, points...)
	if n := len(l.points); n > maxPoints {
		l.points = append(l.points[:0:0], l.points[n-maxPoints/2:]...)
	}
	l.mu.Unlock()
}

// maxPoints bounds the datapoints the lab keeps (about an hour of a running
// lab's metrics).
const maxPoints = 50000

// Datapoints returns the metric datapoints the lab's functions logged at or
// after since (by their timestamps), oldest logged first.
func (l *Lab) Datapoints(since time.Time) []metrics.Datapoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []metrics.Datapoint
	for _, p := range l.points {
		if !p.Time.Before(since) {
			out = append(out, p)
		}
	}
	return out
}

func (l *Lab) stopFunctions() {
	var wg sync.WaitGroup
	for _, p := range l.pools {
		if p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); p.Stop() }()
		}
	}
	wg.Wait()
}
