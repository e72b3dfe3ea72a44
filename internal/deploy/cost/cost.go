package cost

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pilotlight/pilotlight/cloudformation"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Unit prices (USD, us-east-1, list prices) and monthly free-tier
// allowances the estimate uses. They change: the estimate says so.
const (
	lambdaPerMillionRequests = 0.20
	lambdaPerGBSecondArm     = 0.0000133334
	lambdaFreeRequests       = 1_000_000
	lambdaFreeGBSeconds      = 400_000
	metricPerMonth           = 0.30
	freeMetrics              = 10
	standardAlarm            = 0.10
	highResAlarm             = 0.30
	freeStandardAlarms       = 10
	ddbPerMillionWrites      = 0.625 // on-demand write request units
	ddbPerMillionReplicated  = 0.625 // since November 2024 a replicated write costs what a write costs
	ddbPerMillionReads       = 0.125
	s3PerThousandPuts        = 0.005
	s3PerThousandGets        = 0.0004
	s3FreePuts               = 2_000
	s3FreeGets               = 20_000
	route53Zone              = 0.50
	route53HealthCheck       = 0.50 // an AWS endpoint
	route53HTTPSOption       = 1.00 // HTTPS is an optional health-check feature
)

// Line is one item of the monthly estimate, per detection profile.
type Line struct {
	Item       string
	Free, Fast float64
	Basis      string
	// Aside lines are shown but not added to the total (an alternative
	// figure, such as the cost once a first-year allowance ends).
	Aside bool
}

// Metrics is the number of distinct custom metrics a deployment emits with
// the stacks' defaults: the peer's RegionHealthy and ReplicationLagMs from
// each region's health check, four validator findings, the backup count,
// the lease holder's LeaseRenewed. RestoreTestOK has data an hour a day at
// most, ClockOffsetMs only while a clock is off by ε/4 or more: both cost
// next to nothing.
const Metrics = 2 + 2 + 4 + 1 + 1

// Estimate is the monthly cost of an idle deployment (no application
// traffic) per detection profile, assuming the account's free tier is not
// used by anything else. What runs how often — schedules, probe interval,
// lease term, canary interval, memory — is read from the templates
// resolved for each profile; only prices and run durations are assumed.
func Estimate(p deploy.Plan) ([]Line, error) {
	free, err := estimateFigures(p, "free")
	if err != nil {
		return nil, err
	}
	fast, err := estimateFigures(p, "fast")
	if err != nil {
		return nil, err
	}
	alarms, err := templateAlarms()
	if err != nil {
		return nil, fmt.Errorf("cost estimate: %w", err)
	}
	lambda := func(f figures) float64 {
		return max(0, f.requests-lambdaFreeRequests)/1e6*lambdaPerMillionRequests + max(0, f.gbs-lambdaFreeGBSeconds)*lambdaPerGBSecondArm
	}
	// Each run writes a control-table canary and reads it back, and the
	// primary's writes the replication canary (replicated to the DR region).
	ddb := func(f figures) float64 {
		return f.probes/1e6*ddbPerMillionWrites + f.probes/2/1e6*ddbPerMillionReplicated + 2*f.probes/1e6*ddbPerMillionReads
	}
	// The S3 canary is written every canary interval and read on every run.
	s3 := func(f figures) float64 {
		return max(0, f.puts-s3FreePuts)/1000*s3PerThousandPuts + max(0, 2*f.probes-s3FreeGets)/1000*s3PerThousandGets
	}
	// The S3 allowance is for the first 12 months only.
	s3After := func(f figures) float64 { return f.puts/1000*s3PerThousandPuts + 2*f.probes/1000*s3PerThousandGets }
	// The write lease: the holder renews every term/4, each renewal a
	// consistent read of its record, a grant on every control record (2
	// or 3), its lease item and its journaled interval.
	records := 2.0
	if p.HasWitness() {
		records = 3
	}
	leaseCost := func(f figures) float64 {
		return f.renewals*(records+2)/1e6*ddbPerMillionWrites + f.renewals/1e6*ddbPerMillionReads
	}
	lines := []Line{
		{"Lambda (5 functions, arm64)", lambda(free), lambda(fast), fmt.Sprintf("%.0fk / %.0fk requests (the templates' schedules; health checks call both orders services per probe), %.0fk / %.0fk GB-s; free tier 1M requests, 400k GB-s", free.requests/1000, fast.requests/1000, free.gbs/1000, fast.gbs/1000), false},
		{"CloudWatch alarms", alarmCost(alarms, false), alarmCost(alarms, true), fmt.Sprintf("%d alarms: the primary's health (free: standard; fast: high resolution), replication lag, divergence, lease renewals in each region, the DR health check stopping, backups, restore tests, clock offset in each region (10 standard free)", alarms), false},
		{"CloudWatch custom metrics", max(0, Metrics-freeMetrics) * metricPerMonth, max(0, Metrics-freeMetrics) * metricPerMonth, fmt.Sprintf("%d metrics (10 free)", Metrics), false},
		{"CloudWatch dashboard and logs", 0, 0, "1 dashboard (3 free); well under 5 GB of logs (5 GB free)", false},
		{"DynamoDB on-demand canaries", ddb(free), ddb(fast), fmt.Sprintf("%.0fk / %.0fk probes a month (health-check runs × probes per run): canary writes and reads; storage within 25 GB free", free.probes/1000, fast.probes/1000), false},
		{"DynamoDB write lease", leaseCost(free), leaseCost(fast), fmt.Sprintf("renewals every %s / %s (lease term %s / %s): %.1fM / %.1fM writes a month on %.0f control records", free.term/4, fast.term/4, free.term, fast.term, free.renewals*(records+2)/1e6, fast.renewals*(records+2)/1e6, records), false},
		{"S3 canaries and replication", s3(free), s3(fast), fmt.Sprintf("canary GET per probe, PUT every %s per observer and target (2,000 PUTs, 20,000 GETs free in the first year only); your objects' replication is extra", free.canary), false},
		{"  (after the first year)", s3After(free), s3After(fast), "the same S3 requests once the 12-month allowance ends", true},
		{"KMS (table encryption at rest)", 0, 0, "AWS-owned/managed keys: no key fee; DynamoDB caches data keys, so requests stay within 20,000 a month free", false},
	}
	if p.RTC {
		lines = append(lines, Line{"S3 Replication Time Control", 0, 0, "$0.015 per GB replicated, on top", false})
	}
	if p.HostedZoneID != "" {
		r53, basis, err := route53Cost()
		if err != nil {
			return nil, err
		}
		lines = append(lines, Line{"Route 53 (zone, health check, health-only URL)", r53, r53, basis, false})
	}
	return lines, nil
}

// Route 53's health checkers: about this many probe an endpoint, each once
// per request interval (AWS: at a 30 s interval an endpoint sees a check
// every two seconds or so).
const route53Checkers = 15

// route53Cost is the monthly cost of the Route 53 option: the zone, the
// HTTPS health check (HTTPS is an optional feature), and the primary's
// health-only URL answering every checker — a Lambda request, a
// transactional read of two control items and a HeadBucket each. The
// interval is read from global-resources.yaml.
func route53Cost() (float64, string, error) {
	tpl, err := cfn.Parse("global-resources.yaml", cloudformation.Global)
	if err != nil {
		return 0, "", err
	}
	props, _ := tpl.Resources["PrimaryHealthCheck"]["Properties"].(map[string]any)
	cfg, _ := props["HealthCheckConfig"].(map[string]any)
	interval, ok := cfg["RequestInterval"].(float64)
	if !ok || interval <= 0 {
		return 0, "", fmt.Errorf("cost estimate: global-resources.yaml: PrimaryHealthCheck has no RequestInterval")
	}
	calls := float64(30*24*3600) / interval * route53Checkers
	lambda := calls/1e6*lambdaPerMillionRequests + calls*0.02*128/1024*lambdaPerGBSecondArm
	ddb := calls * 4 / 1e6 * ddbPerMillionReads // TransactGetItems: 2 read units per item
	s3 := calls / 1000 * s3PerThousandGets
	total := route53Zone + route53HealthCheck + route53HTTPSOption + lambda + ddb + s3
	return total, fmt.Sprintf("hosted zone, one HTTPS health check every %.0f s (%.1fM checks a month from ~%d checkers, each a Lambda request, a 2-item transactional read and a HeadBucket on the health-only URL)", interval, calls/1e6, route53Checkers), nil
}

// figures are one profile's monthly counts, from the templates.
type figures struct {
	requests, gbs, probes, renewals, puts float64
	term, canary                          time.Duration
}

// Assumed run durations (seconds): a health check that probes once (it
// also stays for its renewal window, read from the template), the
// controller's reconcile, a validation and a backup of a small table.
var runSeconds = map[string]float64{region.FnHealth: 1, region.FnController: 0.2, region.FnValidator: 30, region.FnBackup: 60}

func estimateFigures(p deploy.Plan, profile string) (figures, error) {
	r, err := templateRates(p, profile)
	if err != nil {
		return figures{}, fmt.Errorf("cost estimate (%s profile): %w", profile, err)
	}
	month := float64(30 * 24 * time.Hour)
	// A health-check run probes every PILOTLIGHT_PROBE_INTERVAL within its
	// schedule period (once when unset).
	perRun := func(key string) (float64, time.Duration) {
		iv := r.duration(key, "PILOTLIGHT_PROBE_INTERVAL", 0)
		if iv <= 0 || iv >= r.Period[key] {
			return 1, 0
		}
		return float64(r.Period[key] / iv), iv
	}
	var f figures
	for key, n := range r.Runs {
		_, fn, _ := strings.Cut(key, "/")
		f.requests += n
		secs := runSeconds[fn]
		if fn == region.FnHealth {
			k, iv := perRun(key)
			f.probes += n * k
			if k > 1 {
				secs = (k-1)*iv.Seconds() + 1 // it stays to probe again
			}
			// Every run stays to renew (or, in the region that does not
			// hold the lease, to look) for PILOTLIGHT_RENEW_FOR: two
			// schedule periods, overlapping the next run.
			secs = max(secs, r.duration(key, "PILOTLIGHT_RENEW_FOR", 2*time.Minute).Seconds())
		}
		f.gbs += n * secs * float64(cmp.Or(r.Memory[key], 128)) / 1024
	}
	f.requests += 2 * f.probes                // every probe calls both orders services' /health
	f.gbs += 2 * f.probes * 0.05 * 128 / 1024 // ~50 ms at 128 MB each
	f.term = r.duration("primary/app", "PILOTLIGHT_LEASE_TERM", time.Minute)
	f.renewals = month / float64(f.term/4)
	f.canary = r.duration("dr/healthcheck", "PILOTLIGHT_S3_CANARY_WRITE_EVERY", 10*time.Minute)
	f.puts = 4 * month / float64(f.canary)
	return f, nil
}

// templateAlarms counts the alarms the primary and DR templates create.
func templateAlarms() (int, error) {
	n := 0
	for name, body := range map[string][]byte{"primary-region.yaml": cloudformation.Primary, "dr-region.yaml": cloudformation.DR} {
		tpl, err := cfn.Parse(name, body)
		if err != nil {
			return 0, err
		}
		for _, r := range tpl.Resources {
			if r["Type"] == "AWS::CloudWatch::Alarm" {
				n++
			}
		}
	}
	return n, nil
}

// alarmCost is the alarms' monthly cost: the fast profile's detection alarm
// is high resolution, the rest standard, the first ten standard ones free.
func alarmCost(n int, fast bool) float64 {
	var c float64
	if fast {
		c, n = highResAlarm, n-1
	}
	return c + float64(max(0, n-freeStandardAlarms))*standardAlarm
}

// Print writes the estimate as a table.
func Print(w io.Writer, p deploy.Plan) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ESTIMATED MONTHLY COST (idle)\tfree\tfast\tbasis")
	var tf, tx float64
	lines, err := Estimate(p)
	if err != nil {
		fmt.Fprintf(w, "no cost estimate: %v\n", err)
		return
	}
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t$%.2f\t$%.2f\t%s\n", l.Item, l.Free, l.Fast, l.Basis)
		if l.Aside {
			continue
		}
		tf += l.Free
		tx += l.Fast
	}
	fmt.Fprintf(tw, "total\t$%.2f\t$%.2f\t\n", tf, tx)
	tw.Flush()
	fmt.Fprintln(w, "\nList prices in us-east-1, assuming the account's free tier is otherwise unused; your application's traffic, storage and replication come on top.")
	fmt.Fprintf(w, "Detection: free = 3 × 60 s alarm periods (failover in ~3–4 min); fast = 3 × 10 s (~40 s). This deploy uses %s.\n", p.Profile)
}
