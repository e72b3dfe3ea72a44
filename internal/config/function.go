package config

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

// FunctionEnv is what a pilotlight Lambda function reads from its
// environment. On AWS, Lambda sets AWS_REGION and the credentials; deploy
// sets the PILOTLIGHT_* values. In the lab, the lab sets all of them,
// including endpoints.
type FunctionEnv struct {
	Region                      string                       // AWS_REGION: where this function runs
	Peer                        string                       // PILOTLIGHT_PEER_REGION
	Primary                     string                       // PILOTLIGHT_PRIMARY_REGION: behind the primary routing record
	App                         string                       // PILOTLIGHT_APP_NAME
	Endpoints                   map[string]map[string]string // PILOTLIGHT_ENDPOINTS: region -> service -> URL (lab only)
	AppURLs                     map[string]string            // PILOTLIGHT_APP_URLS: region -> orders service base URL
	RoutingURL                  string                       // PILOTLIGHT_ROUTING_URL: routing view (lab front door)
	RoutingRecord               string                       // PILOTLIGHT_ROUTING_RECORD: the Route 53 failover record, read through DNS (AWS, optional)
	RoutingDRHost               string                       // PILOTLIGHT_ROUTING_DR_HOST: the host the record answers with once the DR region serves
	HealthOnly                  bool                         // PILOTLIGHT_HEALTH_ONLY=true: the orders service answers only GET /health (Route 53's URL)
	AlarmURL                    string                       // PILOTLIGHT_ALARM_URL: the detection alarm's state (lab front door)
	AlarmName                   string                       // PILOTLIGHT_ALARM_NAME: the detection alarm, read with cloudwatch:DescribeAlarms (AWS)
	NotifyFile                  string                       // PILOTLIGHT_NOTIFY_FILE: lab notifications log
	MinDwell                    time.Duration                // PILOTLIGHT_MIN_DWELL
	AgreementWait               time.Duration                // PILOTLIGHT_AGREEMENT_WAIT: how long the routing view may trail the alarm (default failover.DefaultAgreementWait)
	Manual                      bool                         // PILOTLIGHT_FAILOVER_MODE=manual: alarms notify, a person fails over
	Account                     string                       // PILOTLIGHT_ACCOUNT: AWS account ID in bucket names (AWS only)
	NotifyTopic                 string                       // PILOTLIGHT_NOTIFY_TOPIC: SNS topic ARN for phase notifications (AWS)
	ProbeInterval               time.Duration                // PILOTLIGHT_PROBE_INTERVAL: probe this often within one invocation (fast profile: 10s)
	Metrics                     string                       // PILOTLIGHT_METRICS: full, standard or high-resolution
	S3WriteEvery                time.Duration                // PILOTLIGHT_S3_CANARY_WRITE_EVERY: write the S3 canary this often, read it otherwise
	BackupKeep                  int                          // PILOTLIGHT_BACKUP_KEEP: snapshots to keep (default 7)
	BackupMaxAge                time.Duration                // PILOTLIGHT_BACKUP_MAX_AGE: drop older (default 30d)
	Witness                     string                       // PILOTLIGHT_WITNESS_REGION: the third control record ("" or "none": two-region mode)
	Lease                       control.LeaseConfig          // PILOTLIGHT_LEASE_TERM, PILOTLIGHT_CLOCK_EPSILON, PILOTLIGHT_WRITE_DEADLINE (default control.AWSLease)
	RenewFor                    time.Duration                // PILOTLIGHT_RENEW_FOR: how long one health-check invocation keeps renewing (default 2m: two schedule periods, so one late or dropped run costs no writes)
	ClockOffsetFile             string                       // PILOTLIGHT_CLOCK_OFFSET_FILE: lab only, the clock-skew fault's offset
	TimeServer                  string                       // PILOTLIGHT_TIME_SERVER: SNTP server (host:port) the health check measures the clock against ("": not measured)
	accessKey, secretKey, token string
}

// LoadFunctionEnv reads and checks a function's environment.
func LoadFunctionEnv(getenv func(string) string) (FunctionEnv, error) {
	return readFunctionEnv(getenv, true)
}

// ReadFunctionEnv reads and checks a deployed function's environment as
// another program sees it (the CLI reading the failover controller's
// configuration, the lab reading what it gave a function): the same
// settings and checks as LoadFunctionEnv, but no credentials, which belong
// to the function's role and are never read back.
func ReadFunctionEnv(getenv func(string) string) (FunctionEnv, error) {
	return readFunctionEnv(getenv, false)
}

// FunctionField is one setting a pilotlight function reads from its
// environment: its name, what it means, and how it is read. The table
// (FunctionFields) is the one place a function setting is declared: the
// reader, and the CLI that knows them as function settings, use it.
type FunctionField struct {
	Env  string
	Help string
	set  func(f *FunctionEnv, v string) error
}

// text, duration and jsonInto make the common setters.
func text(dst func(*FunctionEnv) *string) func(*FunctionEnv, string) error {
	return func(f *FunctionEnv, v string) error { *dst(f) = v; return nil }
}

func duration(dst func(*FunctionEnv) *time.Duration) func(*FunctionEnv, string) error {
	return func(f *FunctionEnv, v string) error {
		d, err := parseDuration(v)
		*dst(f) = d
		return err
	}
}

// FunctionFields are the PILOTLIGHT_* settings of the functions (AWS_REGION
// and the credentials are Lambda's).
var FunctionFields = []FunctionField{
	{"PILOTLIGHT_PEER_REGION", "the other application region", func(f *FunctionEnv, v string) error {
		f.Peer = v
		return checkRegion(v)
	}},
	{"PILOTLIGHT_PRIMARY_REGION", "the region behind the primary routing record (default AWS_REGION)", text(func(f *FunctionEnv) *string { return &f.Primary })},
	{"PILOTLIGHT_APP_NAME", "prefix of every resource name (default pilotlight)", text(func(f *FunctionEnv) *string { return &f.App })},
	{"PILOTLIGHT_ENDPOINTS", "lab only: region → service → URL, JSON", func(f *FunctionEnv, v string) error {
		if err := json.Unmarshal([]byte(v), &f.Endpoints); err != nil {
			return fmt.Errorf("not JSON like {\"us-east-1\":{\"dynamodb\":\"http://…\",\"s3\":\"http://…\"}}: %w", err)
		}
		return nil
	}},
	{"PILOTLIGHT_APP_URLS", "region → the orders service's base URL, JSON", func(f *FunctionEnv, v string) error {
		if err := json.Unmarshal([]byte(v), &f.AppURLs); err != nil {
			return fmt.Errorf("not JSON like {\"us-east-1\":\"http://…\"}: %w", err)
		}
		// Function URLs end in "/"; the probes append "/health".
		for r, u := range f.AppURLs {
			f.AppURLs[r] = strings.TrimSuffix(u, "/")
		}
		return nil
	}},
	{"PILOTLIGHT_ROUTING_URL", "the routing view (the lab's front door)", text(func(f *FunctionEnv) *string { return &f.RoutingURL })},
	{"PILOTLIGHT_ROUTING_RECORD", "the Route 53 failover record, read through DNS (AWS, optional)", text(func(f *FunctionEnv) *string { return &f.RoutingRecord })},
	{"PILOTLIGHT_ROUTING_DR_HOST", "the host the record answers with once the DR region serves", text(func(f *FunctionEnv) *string { return &f.RoutingDRHost })},
	{"PILOTLIGHT_HEALTH_ONLY", "true: the orders service answers only GET /health (Route 53's URL)", func(f *FunctionEnv, v string) error { f.HealthOnly = v == "true"; return nil }},
	{"PILOTLIGHT_ALARM_URL", "the detection alarm's state (the lab's front door)", text(func(f *FunctionEnv) *string { return &f.AlarmURL })},
	{"PILOTLIGHT_ALARM_NAME", "the detection alarm, read with cloudwatch:DescribeAlarms (AWS)", text(func(f *FunctionEnv) *string { return &f.AlarmName })},
	{"PILOTLIGHT_NOTIFY_FILE", "lab only: the notifications log", text(func(f *FunctionEnv) *string { return &f.NotifyFile })},
	{"PILOTLIGHT_MIN_DWELL", "least time between two failovers", duration(func(f *FunctionEnv) *time.Duration { return &f.MinDwell })},
	{"PILOTLIGHT_AGREEMENT_WAIT", "how long the routing view may trail the alarm", duration(func(f *FunctionEnv) *time.Duration { return &f.AgreementWait })},
	{"PILOTLIGHT_FAILOVER_MODE", "auto (the alarm fails over) or manual (it notifies)", func(f *FunctionEnv, v string) error {
		switch v {
		case "auto":
		case "manual":
			f.Manual = true
		default:
			return fmt.Errorf("%q: use auto (the alarm fails over) or manual (the alarm notifies, a person runs pilotlight failover)", v)
		}
		return nil
	}},
	{"PILOTLIGHT_ACCOUNT", "AWS only: the account ID in bucket names", text(func(f *FunctionEnv) *string { return &f.Account })},
	{"PILOTLIGHT_NOTIFY_TOPIC", "AWS only: the SNS topic ARN for phase notifications", text(func(f *FunctionEnv) *string { return &f.NotifyTopic })},
	{"PILOTLIGHT_PROBE_INTERVAL", "probe this often within one invocation", duration(func(f *FunctionEnv) *time.Duration { return &f.ProbeInterval })},
	{"PILOTLIGHT_METRICS", "full, standard or high-resolution", func(f *FunctionEnv, v string) error {
		f.Metrics = v
		switch v {
		case "full", "standard", "high-resolution":
			return nil
		}
		return fmt.Errorf("%q: use full, standard or high-resolution", v)
	}},
	{"PILOTLIGHT_S3_CANARY_WRITE_EVERY", "write the S3 canary this often, read it otherwise", duration(func(f *FunctionEnv) *time.Duration { return &f.S3WriteEvery })},
	{"PILOTLIGHT_BACKUP_KEEP", "snapshots to keep (default 7; 0: no count limit)", func(f *FunctionEnv, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a count: write a whole number such as 7 (0: no count limit)", v)
		}
		f.BackupKeep = n
		return nil
	}},
	{"PILOTLIGHT_BACKUP_MAX_AGE", "drop snapshots older than this (default 30d)", func(f *FunctionEnv, v string) error {
		d, err := ParseAge(v)
		f.BackupMaxAge = d
		return err
	}},
	{"PILOTLIGHT_WITNESS_REGION", "the third control record (none: two-region mode)", func(f *FunctionEnv, v string) error {
		if v == "none" {
			return nil
		}
		f.Witness = v
		return checkRegion(v)
	}},
	{"PILOTLIGHT_LEASE_TERM", "how long one renewal grants", duration(func(f *FunctionEnv) *time.Duration { return &f.Lease.Term })},
	{"PILOTLIGHT_CLOCK_EPSILON", "the bound on two regions' clocks' difference", duration(func(f *FunctionEnv) *time.Duration { return &f.Lease.Epsilon })},
	{"PILOTLIGHT_WRITE_DEADLINE", "how long after its lease check a write may be applied", duration(func(f *FunctionEnv) *time.Duration { return &f.Lease.Delta })},
	{"PILOTLIGHT_RENEW_FOR", "how long one health-check invocation keeps renewing (default 2m)", duration(func(f *FunctionEnv) *time.Duration { return &f.RenewFor })},
	{"PILOTLIGHT_CLOCK_OFFSET_FILE", "lab only: the clock-skew fault's offset", text(func(f *FunctionEnv) *string { return &f.ClockOffsetFile })},
	{"PILOTLIGHT_TIME_SERVER", "SNTP server (host:port) the health check measures the clock against", func(f *FunctionEnv, v string) error {
		f.TimeServer = v
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("%q is not host:port (for example time.aws.com:123)", v)
		}
		return nil
	}},
}

func readFunctionEnv(getenv func(string) string, credentials bool) (FunctionEnv, error) {
	f := FunctionEnv{Region: getenv("AWS_REGION"), App: "pilotlight", Lease: control.AWSLease, RenewFor: 2 * time.Minute, BackupKeep: 7, BackupMaxAge: 30 * 24 * time.Hour,
		accessKey: getenv("AWS_ACCESS_KEY_ID"), secretKey: getenv("AWS_SECRET_ACCESS_KEY"), token: getenv("AWS_SESSION_TOKEN")}
	var errs []string
	for _, fd := range FunctionFields {
		if v := getenv(fd.Env); v != "" {
			if err := fd.set(&f, v); err != nil {
				errs = append(errs, fd.Env+": "+err.Error())
			}
		}
	}
	errs = append(errs, f.check(getenv, credentials)...)
	if len(errs) > 0 {
		return f, fmt.Errorf("function environment: %s", strings.Join(errs, "; "))
	}
	return f, nil
}

// check says what is wrong across settings: the two regions, the routing
// pair, the lease's arithmetic, a retired name, the credentials.
func (f *FunctionEnv) check(getenv func(string) string, credentials bool) []string {
	var errs []string
	if err := checkRegion(f.Region); err != nil {
		errs = append(errs, "AWS_REGION: "+err.Error())
	}
	if f.Peer == "" {
		errs = append(errs, "PILOTLIGHT_PEER_REGION: "+checkRegion("").Error())
	}
	if f.Primary == "" {
		f.Primary = f.Region
	}
	if f.Region == f.Peer && f.Region != "" {
		errs = append(errs, "PILOTLIGHT_PEER_REGION: same as AWS_REGION: the peer must be the other region")
	}
	if f.Witness != "" && (f.Witness == f.Region || f.Witness == f.Peer) {
		errs = append(errs, fmt.Sprintf("PILOTLIGHT_WITNESS_REGION: %s is one of the two application regions: name a third region, or none", f.Witness))
		f.Witness = ""
	}
	if (f.RoutingRecord == "") != (f.RoutingDRHost == "") {
		errs = append(errs, "PILOTLIGHT_ROUTING_RECORD and PILOTLIGHT_ROUTING_DR_HOST go together: set both (the record, and the DR orders-service host it answers with after failover) or neither")
	}
	if getenv("PILOTLIGHT_MANUAL") != "" {
		errs = append(errs, "PILOTLIGHT_MANUAL is no longer read: set PILOTLIGHT_FAILOVER_MODE=manual (or auto)")
	}
	if err := f.Lease.Validate(0); err != nil {
		errs = append(errs, "PILOTLIGHT_LEASE_TERM/PILOTLIGHT_CLOCK_EPSILON/PILOTLIGHT_WRITE_DEADLINE: "+err.Error())
	}
	if credentials && (f.accessKey == "" || f.secretKey == "") {
		errs = append(errs, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: unset (Lambda sets them from the function's role; the lab sets lab credentials)")
	}
	return errs
}

// Spec returns the region.Spec for one of the two regions. attempts 1 is for
// probes and fencing; 0 keeps the SDK's retries.
func (f FunctionEnv) Spec(regionName string, attempts int) region.Spec {
	ep := map[region.Service]string{}
	for svc, u := range f.Endpoints[regionName] {
		ep[region.Service(svc)] = u
	}
	return region.Spec{
		Name:        regionName,
		Credentials: credentials.NewStaticCredentialsProvider(f.accessKey, f.secretKey, f.token),
		Endpoints:   ep,
		MaxAttempts: attempts,
		DialTimeout: time.Second,
		Local:       len(ep) > 0,
		UserAgent:   "pilotlight-function",
	}
}

// Names returns the resource names.
func (f FunctionEnv) Names() region.Names { return region.Names{App: f.App, Account: f.Account} }

// Now is the function's clock: the system clock, plus in the lab the
// clock-skew fault's offset (a Go duration in PILOTLIGHT_CLOCK_OFFSET_FILE,
// read at most every 100ms).
func (f FunctionEnv) Now() func() time.Time {
	if f.ClockOffsetFile == "" {
		return time.Now
	}
	var (
		mu     sync.Mutex
		offset time.Duration
		read   time.Time
	)
	return func() time.Time {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if now.Sub(read) > 100*time.Millisecond {
			read, offset = now, 0
			if b, err := os.ReadFile(f.ClockOffsetFile); err == nil {
				offset, _ = time.ParseDuration(strings.TrimSpace(string(b)))
			}
		}
		return now.Add(offset)
	}
}
