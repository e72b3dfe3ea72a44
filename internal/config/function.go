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

func readFunctionEnv(getenv func(string) string, credentials bool) (FunctionEnv, error) {
	f := FunctionEnv{
		Region: getenv("AWS_REGION"), Peer: getenv("PILOTLIGHT_PEER_REGION"), Primary: getenv("PILOTLIGHT_PRIMARY_REGION"),
		App: getenv("PILOTLIGHT_APP_NAME"), RoutingURL: getenv("PILOTLIGHT_ROUTING_URL"),
		RoutingRecord: getenv("PILOTLIGHT_ROUTING_RECORD"), RoutingDRHost: getenv("PILOTLIGHT_ROUTING_DR_HOST"), HealthOnly: getenv("PILOTLIGHT_HEALTH_ONLY") == "true", AlarmURL: getenv("PILOTLIGHT_ALARM_URL"), AlarmName: getenv("PILOTLIGHT_ALARM_NAME"), NotifyFile: getenv("PILOTLIGHT_NOTIFY_FILE"),
		Account: getenv("PILOTLIGHT_ACCOUNT"), NotifyTopic: getenv("PILOTLIGHT_NOTIFY_TOPIC"), Metrics: getenv("PILOTLIGHT_METRICS"),
		accessKey: getenv("AWS_ACCESS_KEY_ID"), secretKey: getenv("AWS_SECRET_ACCESS_KEY"), token: getenv("AWS_SESSION_TOKEN"),
	}
	if f.App == "" {
		f.App = "pilotlight"
	}
	f.Lease, f.RenewFor = control.AWSLease, 2*time.Minute
	f.ClockOffsetFile = getenv("PILOTLIGHT_CLOCK_OFFSET_FILE")
	f.TimeServer = getenv("PILOTLIGHT_TIME_SERVER")
	var errs []string
	switch m := getenv("PILOTLIGHT_FAILOVER_MODE"); m {
	case "", "auto":
	case "manual":
		f.Manual = true
	default:
		errs = append(errs, fmt.Sprintf("PILOTLIGHT_FAILOVER_MODE: %q: use auto (the alarm fails over) or manual (the alarm notifies, a person runs pilotlight failover)", m))
	}
	if (f.RoutingRecord == "") != (f.RoutingDRHost == "") {
		errs = append(errs, "PILOTLIGHT_ROUTING_RECORD and PILOTLIGHT_ROUTING_DR_HOST go together: set both (the record, and the DR orders-service host it answers with after failover) or neither")
	}
	if f.TimeServer != "" {
		if _, _, err := net.SplitHostPort(f.TimeServer); err != nil {
			errs = append(errs, fmt.Sprintf("PILOTLIGHT_TIME_SERVER: %q is not host:port (for example time.aws.com:123)", f.TimeServer))
		}
	}
	if getenv("PILOTLIGHT_MANUAL") != "" {
		errs = append(errs, "PILOTLIGHT_MANUAL is no longer read: set PILOTLIGHT_FAILOVER_MODE=manual (or auto)")
	}
	for name, v := range map[string]string{"AWS_REGION": f.Region, "PILOTLIGHT_PEER_REGION": f.Peer} {
		if err := checkRegion(v); err != nil {
			errs = append(errs, name+": "+err.Error())
		}
	}
	if f.Primary == "" {
		f.Primary = f.Region
	}
	if f.Region == f.Peer && f.Region != "" {
		errs = append(errs, "PILOTLIGHT_PEER_REGION: same as AWS_REGION: the peer must be the other region")
	}
	if s := getenv("PILOTLIGHT_ENDPOINTS"); s != "" {
		if err := json.Unmarshal([]byte(s), &f.Endpoints); err != nil {
			errs = append(errs, "PILOTLIGHT_ENDPOINTS: not JSON like {\"us-east-1\":{\"dynamodb\":\"http://…\",\"s3\":\"http://…\"}}: "+err.Error())
		}
	}
	if s := getenv("PILOTLIGHT_APP_URLS"); s != "" {
		if err := json.Unmarshal([]byte(s), &f.AppURLs); err != nil {
			errs = append(errs, "PILOTLIGHT_APP_URLS: not JSON like {\"us-east-1\":\"http://…\"}: "+err.Error())
		}
		// Function URLs end in "/"; the probes append "/health".
		for r, u := range f.AppURLs {
			f.AppURLs[r] = strings.TrimSuffix(u, "/")
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"PILOTLIGHT_MIN_DWELL", &f.MinDwell}, {"PILOTLIGHT_AGREEMENT_WAIT", &f.AgreementWait}, {"PILOTLIGHT_PROBE_INTERVAL", &f.ProbeInterval}, {"PILOTLIGHT_S3_CANARY_WRITE_EVERY", &f.S3WriteEvery},
		{"PILOTLIGHT_LEASE_TERM", &f.Lease.Term}, {"PILOTLIGHT_CLOCK_EPSILON", &f.Lease.Epsilon}, {"PILOTLIGHT_WRITE_DEADLINE", &f.Lease.Delta},
		{"PILOTLIGHT_RENEW_FOR", &f.RenewFor}} {
		if s := getenv(d.name); s != "" {
			v, err := parseDuration(s)
			if err != nil {
				errs = append(errs, d.name+": "+err.Error())
			}
			*d.dst = v
		}
	}
	if err := f.Lease.Validate(0); err != nil {
		errs = append(errs, "PILOTLIGHT_LEASE_TERM/PILOTLIGHT_CLOCK_EPSILON/PILOTLIGHT_WRITE_DEADLINE: "+err.Error())
	}
	switch w := getenv("PILOTLIGHT_WITNESS_REGION"); {
	case w == "" || w == "none":
	case w == f.Region || w == f.Peer:
		errs = append(errs, fmt.Sprintf("PILOTLIGHT_WITNESS_REGION: %s is one of the two application regions: name a third region, or none", w))
	default:
		if err := checkRegion(w); err != nil {
			errs = append(errs, "PILOTLIGHT_WITNESS_REGION: "+err.Error())
		}
		f.Witness = w
	}
	switch f.Metrics {
	case "", "full", "standard", "high-resolution":
	default:
		errs = append(errs, fmt.Sprintf("PILOTLIGHT_METRICS: %q: use full, standard or high-resolution", f.Metrics))
	}
	f.BackupKeep, f.BackupMaxAge = 7, 30*24*time.Hour
	if s := getenv("PILOTLIGHT_BACKUP_KEEP"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Sprintf("PILOTLIGHT_BACKUP_KEEP: %q is not a count: write a whole number such as 7 (0: no count limit)", s))
		}
		f.BackupKeep = n
	}
	if s := getenv("PILOTLIGHT_BACKUP_MAX_AGE"); s != "" {
		d, err := ParseAge(s)
		if err != nil {
			errs = append(errs, "PILOTLIGHT_BACKUP_MAX_AGE: "+err.Error())
		}
		f.BackupMaxAge = d
	}
	if credentials && (f.accessKey == "" || f.secretKey == "") {
		errs = append(errs, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: unset (Lambda sets them from the function's role; the lab sets lab credentials)")
	}
	if len(errs) > 0 {
		return f, fmt.Errorf("function environment: %s", strings.Join(errs, "; "))
	}
	return f, nil
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
