package deploy

import (
	"fmt"
	"io"
	"text/tabwriter"
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
	ddbPerMillionReplicated  = 0.9375
	ddbPerMillionReads       = 0.125
	s3PerThousandPuts        = 0.005
	s3PerThousandGets        = 0.0004
	s3FreePuts               = 2_000
	s3FreeGets               = 20_000
	route53Zone              = 0.50
	route53HealthCheck       = 0.50
	minutesPerMonth          = 43_200
)

// CostLine is one item of the monthly estimate, per detection profile.
type CostLine struct {
	Item       string
	Free, Fast float64
	Basis      string
	// Aside lines are shown but not added to the total (an alternative
	// figure, such as the cost once a first-year allowance ends).
	Aside bool
}

// Metrics is the number of distinct custom metrics a deployment emits with
// the stacks' defaults: the peer's RegionHealthy and ReplicationLagMs from
// each region's health check, four validator findings, the backup count.
const Metrics = 2 + 2 + 4 + 1

// Estimate is the monthly cost of an idle deployment (no application
// traffic) per detection profile, assuming the account's free tier is not
// used by anything else.
func Estimate(p Plan) []CostLine {
	perMin := float64(minutesPerMonth)
	// Invocations: health check in both regions and the controller's
	// reconcile every minute; validator every 6 hours; backup daily.
	probesFree, probesFast := 2*perMin, perMin+6*perMin // health-check runs a month
	requests := 3*perMin + 4*30 + 30
	// Every health-check run calls both regions' orders services (/health):
	// two more Lambda requests per run.
	reqFree, reqFast := requests+2*probesFree, requests+2*probesFast
	// GB-seconds: health checks take ~1 s at 128 MB; in the fast profile
	// the DR one stays ~55 s probing every 10 s.
	gbsFree := 2*perMin*1*0.125 + perMin*0.2*0.125 + 120*30*0.5 + 30*60*0.5
	gbsFast := gbsFree - perMin*1*0.125 + perMin*55*0.125
	gbsFree += 2 * probesFree * 0.05 * 0.125 // the /health calls, ~50 ms at 128 MB
	gbsFast += 2 * probesFast * 0.05 * 0.125
	lambda := func(req, gbs float64) float64 {
		return max(0, req-lambdaFreeRequests)/1e6*lambdaPerMillionRequests + max(0, gbs-lambdaFreeGBSeconds)*lambdaPerGBSecondArm
	}
	// Each run writes a control-table canary and reads it back, and the
	// primary's writes the replication canary (replicated to the DR region).
	ddb := func(runs float64) float64 {
		return runs/1e6*ddbPerMillionWrites + runs/2/1e6*ddbPerMillionReplicated + 2*runs/1e6*ddbPerMillionReads
	}
	// The S3 canary is written every 10 minutes (per observer and target)
	// and read on every run.
	s3 := func(runs float64) float64 {
		puts := 4 * perMin / 10
		return max(0, puts-s3FreePuts)/1000*s3PerThousandPuts + max(0, 2*runs-s3FreeGets)/1000*s3PerThousandGets
	}
	// The S3 allowance is for the first 12 months only.
	s3After := func(runs float64) float64 {
		return 4*perMin/10/1000*s3PerThousandPuts + 2*runs/1000*s3PerThousandGets
	}
	// The write lease: the holder renews every term/4 (5 s), each renewal
	// a consistent read of its record, a grant on every control record (2
	// or 3), its lease item and its journaled interval.
	records := 2.0
	if p.HasWitness() {
		records = 3
	}
	// The term follows the detection profile (templates: 60 s free, 20 s
	// fast), renewed every quarter term.
	leaseCost := func(renewals float64) float64 {
		return renewals*(records+2)/1e6*ddbPerMillionWrites + renewals/1e6*ddbPerMillionReads
	}
	renewFree, renewFast := perMin*4, perMin*12
	lines := []CostLine{
		{"Lambda (5 functions, arm64)", lambda(reqFree, gbsFree), lambda(reqFast, gbsFast), fmt.Sprintf("%.0fk / %.0fk requests (health checks call both orders services), %.0fk / %.0fk GB-s; free tier 1M requests, 400k GB-s", reqFree/1000, reqFast/1000, gbsFree/1000, gbsFast/1000), false},
		{"CloudWatch alarms", 0, highResAlarm, "6 alarms: the primary's health (free: standard; fast: high resolution), replication lag, divergence, lease renewals, backups, restore tests (10 standard free)", false},
		{"CloudWatch custom metrics", max(0, Metrics-freeMetrics) * metricPerMonth, max(0, Metrics-freeMetrics) * metricPerMonth, fmt.Sprintf("%d metrics (10 free)", Metrics), false},
		{"CloudWatch dashboard and logs", 0, 0, "1 dashboard (3 free); well under 5 GB of logs (5 GB free)", false},
		{"DynamoDB on-demand canaries", ddb(probesFree), ddb(probesFast), "canary writes and reads of the health checks; storage within 25 GB free", false},
		{"DynamoDB write lease", leaseCost(renewFree), leaseCost(renewFast), fmt.Sprintf("renewals every 15 s / 5 s (lease term 60 s / 20 s): %.1fM / %.1fM writes a month on %.0f control records", renewFree*(records+2)/1e6, renewFast*(records+2)/1e6, records), false},
		{"S3 canaries and replication", s3(probesFree), s3(probesFast), "canary GET per health check, PUT every 10 min (2,000 PUTs, 20,000 GETs free in the first year only); your objects' replication is extra", false},
		{"  (after the first year)", s3After(probesFree), s3After(probesFast), "the same S3 requests once the 12-month allowance ends", true},
		{"KMS (table encryption at rest)", 0, 0, "AWS-owned/managed keys: no key fee; DynamoDB caches data keys, so requests stay within 20,000 a month free", false},
	}
	if p.RTC {
		lines = append(lines, CostLine{"S3 Replication Time Control", 0, 0, "$0.015 per GB replicated, on top", false})
	}
	if p.HostedZoneID != "" {
		lines = append(lines, CostLine{"Route 53 (zone + health check)", route53Zone + route53HealthCheck, route53Zone + route53HealthCheck, "hosted zone and one CloudWatch-alarm health check", false})
	}
	return lines
}

// PrintEstimate writes the estimate as a table.
func PrintEstimate(w io.Writer, p Plan) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ESTIMATED MONTHLY COST (idle)\tfree\tfast\tbasis")
	var tf, tx float64
	for _, l := range Estimate(p) {
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
