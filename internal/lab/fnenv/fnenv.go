// Package fnenv owns what the lab gives each of its functions: the
// PILOTLIGHT_* settings the function's template gives it, the lab-only
// settings that stand for what AWS provides otherwise, the variables the
// Lambda runtime sets, and the function's timeout; and Check, the
// description of all of it that package parity holds to the templates.
//
// It must not start anything nor know the running lab: it composes
// environments from values it is given.
package fnenv

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

// settings are the PILOTLIGHT_* settings each function's template gives
// it; a function is given those and labOnly, nothing else (parity holds
// what the lab gives to the templates).
var settings = map[string][]string{
	region.FnApp:        {"PILOTLIGHT_APP_NAME", "PILOTLIGHT_PEER_REGION", "PILOTLIGHT_PRIMARY_REGION", "PILOTLIGHT_WITNESS_REGION", "PILOTLIGHT_LEASE_TERM"},
	region.FnHealth:     {"PILOTLIGHT_APP_NAME", "PILOTLIGHT_PEER_REGION", "PILOTLIGHT_PRIMARY_REGION", "PILOTLIGHT_WITNESS_REGION", "PILOTLIGHT_LEASE_TERM", "PILOTLIGHT_APP_URLS", "PILOTLIGHT_S3_CANARY_WRITE_EVERY", "PILOTLIGHT_TIME_SERVER", "PILOTLIGHT_RENEW_FOR"},
	region.FnController: {"PILOTLIGHT_APP_NAME", "PILOTLIGHT_PEER_REGION", "PILOTLIGHT_PRIMARY_REGION", "PILOTLIGHT_WITNESS_REGION", "PILOTLIGHT_LEASE_TERM", "PILOTLIGHT_FAILOVER_MODE", "PILOTLIGHT_MIN_DWELL"},
	region.FnValidator:  {"PILOTLIGHT_APP_NAME", "PILOTLIGHT_PEER_REGION", "PILOTLIGHT_PRIMARY_REGION", "PILOTLIGHT_WITNESS_REGION", "PILOTLIGHT_LEASE_TERM"},
	region.FnBackup:     {"PILOTLIGHT_APP_NAME", "PILOTLIGHT_PEER_REGION", "PILOTLIGHT_PRIMARY_REGION", "PILOTLIGHT_WITNESS_REGION", "PILOTLIGHT_LEASE_TERM"},
}

// labOnly stand for what AWS provides otherwise (endpoints, the alarm's
// and routing's state, notifications, the lab's lease arithmetic and
// faults); every function gets them.
var labOnly = []string{"PILOTLIGHT_ENDPOINTS", "PILOTLIGHT_ROUTING_URL", "PILOTLIGHT_ALARM_URL", "PILOTLIGHT_NOTIFY_FILE",
	"PILOTLIGHT_CLOCK_OFFSET_FILE", "PILOTLIGHT_CLOCK_EPSILON", "PILOTLIGHT_WRITE_DEADLINE", "PILOTLIGHT_AGREEMENT_WAIT"}

// keepFor drops the PILOTLIGHT_* settings a function's template does not
// give it.
func keepFor(fn string, env []string) []string {
	out := env[:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "PILOTLIGHT_") || slices.Contains(settings[fn], k) || slices.Contains(labOnly, k) {
			out = append(out, kv)
		}
	}
	return out
}

// Timeout is a function's timeout in seconds, as the templates set it
// (parity holds the two alike).
func Timeout(name string) string {
	switch name {
	case region.FnValidator, region.FnBackup:
		return "900" // they scan whole tables
	case region.FnController:
		return "120"
	case region.FnHealth:
		return "150"
	}
	return "30"
}

// AppURL is a region's orders service as the lab's functions reach it:
// through the front door at frontDoor, under the region's path.
func AppURL(frontDoor, region string) string { return frontDoor + "/_region/" + region }

// Check is what the lab gives its functions, for lab.Options.CheckEnv to
// hold against the templates (package parity).
type Check struct {
	Names       region.Names
	Primary, DR string
	Witness     string // "" when the lab runs without one
	Manual      bool
	// AppURL is a region's orders service as the functions reach it.
	AppURL func(region string) string
	// Envs: "region/function" -> the KEY=VALUE pairs the lab sets.
	Envs map[string][]string
	// Schedule is how the lab's scheduler and alarm run (zero: not known).
	Schedule Schedule
}

// Schedule is the cadence of the lab's stand-ins for EventBridge schedules
// and the detection alarm, to hold against the templates' (scaled).
type Schedule struct {
	HealthInterval time.Duration // a health-check probe in each region
	ReconcileEvery time.Duration // the controller's scheduled tick
	AlarmPeriod    time.Duration
	AlarmPeriods   int    // evaluation periods, all of them breaching to alarm
	AlarmMissing   string // how the alarm treats a missing datapoint
}

// Deployment is what every function's environment is composed from: the
// lab's regions, its stand-ins' addresses and its settings.
type Deployment struct {
	Names       region.Names
	Primary, DR string
	Witness     string // "" when the lab runs without one
	// FrontDoor is the front door's base URL: the orders service, routing
	// and the alarm's state are paths under it.
	FrontDoor string
	// Endpoints: a region -> its view of every region's endpoints, as
	// JSON (PILOTLIGHT_ENDPOINTS).
	Endpoints map[string][]byte
	// NotifyFile receives the notifications SNS would send.
	NotifyFile string
	// ClockFile is a region's clock offset file (the clock-skew fault).
	ClockFile  func(region string) string
	TimeServer string // host:port of the SNTP server on the true clock
	Lease      control.LeaseConfig
	// MinDwell, AgreementWait and Manual are the controller's settings;
	// HealthInterval is the health checks' schedule.
	MinDwell, AgreementWait, HealthInterval time.Duration
	Manual                                  bool
}

// Env is the environment of function fn in a region, signed with the
// given key (its role's in the lab's IAM): what its template gives it and
// the lab-only settings, nothing else.
func (d Deployment) Env(regionName, fn, accessKeyID, secretAccessKey string) []string {
	peer := d.DR
	if regionName == d.DR {
		peer = d.Primary
	}
	witness := d.Witness
	if witness == "" {
		witness = "none"
	}
	urls, _ := json.Marshal(map[string]string{d.Primary: AppURL(d.FrontDoor, d.Primary), d.DR: AppURL(d.FrontDoor, d.DR)})
	return keepFor(fn, []string{
		"AWS_REGION=" + regionName, "AWS_DEFAULT_REGION=" + regionName,
		"AWS_ACCESS_KEY_ID=" + accessKeyID, "AWS_SECRET_ACCESS_KEY=" + secretAccessKey, "AWS_SESSION_TOKEN=",
		"AWS_LAMBDA_FUNCTION_NAME=" + d.Names.Function(fn), "AWS_LAMBDA_FUNCTION_TIMEOUT=" + Timeout(fn),
		"PILOTLIGHT_PEER_REGION=" + peer, "PILOTLIGHT_PRIMARY_REGION=" + d.Primary, "PILOTLIGHT_APP_NAME=" + d.Names.App,
		"PILOTLIGHT_ENDPOINTS=" + string(d.Endpoints[regionName]), "PILOTLIGHT_APP_URLS=" + string(urls),
		"PILOTLIGHT_ROUTING_URL=" + d.FrontDoor + "/_pilotlight/routing",
		"PILOTLIGHT_ALARM_URL=" + d.FrontDoor + "/_pilotlight/alarm",
		"PILOTLIGHT_NOTIFY_FILE=" + d.NotifyFile,
		"PILOTLIGHT_MIN_DWELL=" + d.MinDwell.String(), "PILOTLIGHT_AGREEMENT_WAIT=" + d.AgreementWait.String(),
		"PILOTLIGHT_FAILOVER_MODE=" + map[bool]string{false: "auto", true: "manual"}[d.Manual],
		// Read the S3 canary every second, write it every 30: a cut S3
		// fails the read just the same, and versions do not pile up.
		"PILOTLIGHT_S3_CANARY_WRITE_EVERY=30s",
		// The write lease: the lab's arithmetic, renewed by each health
		// check for its whole share of the schedule.
		"PILOTLIGHT_WITNESS_REGION=" + witness,
		"PILOTLIGHT_LEASE_TERM=" + d.Lease.Term.String(), "PILOTLIGHT_CLOCK_EPSILON=" + d.Lease.Epsilon.String(),
		"PILOTLIGHT_WRITE_DEADLINE=" + d.Lease.Delta.String(),
		"PILOTLIGHT_RENEW_FOR=" + (2 * d.HealthInterval).String(),
		"PILOTLIGHT_CLOCK_OFFSET_FILE=" + d.ClockFile(regionName),
		"PILOTLIGHT_TIME_SERVER=" + d.TimeServer,
	})
}
