package health_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/health"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/metrics"
)

func TestMain(m *testing.M) { labtest.Main(m) }

func TestProbesAndMetrics(t *testing.T) {
	l := labtest.Lab(t)
	names := labtest.Provision(t, "hc")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	peer, self := labtest.Clients(t, 1)
	p := &health.Prober{Self: health.Target{Clients: self}, Peer: health.Target{Clients: peer}, Names: names,
		HTTP: &http.Client{Timeout: time.Second}, Timeout: 500 * time.Millisecond}

	r := p.Run(ctx) // stamps this region's canary
	if len(r.Verdicts) != 2 || !r.Verdicts[0].Healthy || !r.Verdicts[1].Healthy {
		t.Fatalf("healthy lab: %+v", r.Verdicts)
	}
	// Cut the peer: its verdict turns unhealthy within the probe deadline.
	if err := l.Cut("us-east-1", ""); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r = p.Run(ctx)
	took := time.Since(start)
	if !r.Verdicts[0].Healthy || r.Verdicts[1].Healthy {
		t.Fatalf("with us-east-1 cut: %+v", r.Verdicts)
	}
	if took > 3*time.Second {
		t.Errorf("probes of a cut region took %s: they must fail fast, not retry", took)
	}
	for _, pr := range r.Verdicts[1].Probes {
		if pr.OK || pr.Error == "" {
			t.Errorf("probe %s of a cut region: %+v", pr.Probe, pr)
		}
	}
	var b bytes.Buffer
	if err := health.Emit(&b, r); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n")) {
		points, err := metrics.Parse(line, metrics.Namespace)
		if err != nil {
			t.Fatalf("emitted line does not parse: %v: %s", err, line)
		}
		for _, pt := range points {
			if pt.Name == metrics.RegionHealthy && pt.Dims["Region"] == "us-west-2" && pt.Dims["Target"] == "us-east-1" {
				found = true
				if pt.Value != 0 {
					t.Errorf("RegionHealthy for the cut region = %v", pt.Value)
				}
			}
		}
	}
	if !found {
		t.Errorf("no RegionHealthy datapoint for us-east-1 in:\n%s", b.String())
	}
}

func TestEmitModes(t *testing.T) {
	r := health.Report{Observer: "us-west-2", At: time.Unix(1700000000, 0), ReplicationLagMs: 12,
		Verdicts: []health.Verdict{{Region: "us-west-2", Healthy: true, Probes: []health.Result{{Probe: "dynamodb", OK: true, LatencyMs: 3}}}, {Region: "us-east-1", Healthy: false, Probes: []health.Result{{Probe: "dynamodb", LatencyMs: 800}}}}}
	count := func(mode string) (int, string) {
		o, err := health.ParseMetricsMode(mode)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := health.EmitWith(&b, r, o); err != nil {
			t.Fatal(err)
		}
		return strings.Count(b.String(), "\n"), b.String()
	}
	if n, _ := count("full"); n != 5 {
		t.Errorf("full: %d lines, want 5 (2 health, 2 latency, 1 lag)", n)
	}
	if n, out := count("standard"); n != 2 || strings.Contains(out, "ProbeLatencyMs") || strings.Contains(out, "StorageResolution") {
		t.Errorf("standard: %d lines\n%s", n, out)
	}
	if n, out := count("high-resolution"); n != 2 || !strings.Contains(out, `"StorageResolution":1`) {
		t.Errorf("high-resolution: %d lines\n%s", n, out)
	}
	if _, err := health.ParseMetricsMode("verbose"); err == nil {
		t.Error("unknown mode accepted")
	}
}

// TestS3CanaryWrittenSparingly: with S3WriteEvery the canary is put once
// and read back after, and a region that cannot serve it is still caught.
func TestS3CanaryWrittenSparingly(t *testing.T) {
	l := labtest.Lab(t)
	names := labtest.Provision(t, "hs")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	peer, self := labtest.Clients(t, 1)
	p := &health.Prober{Self: health.Target{Clients: self}, Peer: health.Target{Clients: peer}, Names: names,
		HTTP: &http.Client{Timeout: time.Second}, Timeout: 500 * time.Millisecond, S3WriteEvery: time.Hour}
	s3ok := func(r health.Report, region string) bool {
		for _, v := range r.Verdicts {
			for _, pr := range v.Probes {
				if v.Region == region && pr.Probe == health.ProbeS3 {
					return pr.OK
				}
			}
		}
		return false
	}
	for range 3 {
		if r := p.Run(ctx); !s3ok(r, "us-east-1") {
			t.Fatalf("s3 probe failed on a healthy lab: %+v", r.Verdicts)
		}
	}
	v, err := peer.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(names.BackupBucket("us-east-1")), Prefix: aws.String(health.CanaryPrefix)})
	if err != nil || len(v.Versions) != 1 {
		t.Fatalf("%d canary versions after 3 runs (want 1: written once, read twice): %v", len(v.Versions), err)
	}
	if err := l.Cut("us-east-1", "s3"); err != nil {
		t.Fatal(err)
	}
	if r := p.Run(ctx); s3ok(r, "us-east-1") {
		t.Fatal("a cut S3 passed the read-only probe")
	}
}

// Two instances of one region's health check run at once whenever an
// invocation renews into the next schedule period, and they share the
// canaries' keys: each must find the region healthy although the other
// wrote last. (Before, the S3 probe compared the body with the one its own
// instance last put: every other run reported both regions unhealthy, and
// on AWS a 60 s Minimum alarm would have failed over a healthy primary.)
func TestConcurrentInstancesShareTheCanaries(t *testing.T) {
	labtest.Lab(t)
	names := labtest.Provision(t, "hc")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	peer, self := labtest.Clients(t, 1)
	instance := func() *health.Prober {
		return &health.Prober{Self: health.Target{Clients: self}, Peer: health.Target{Clients: peer}, Names: names,
			HTTP: &http.Client{Timeout: time.Second}, Timeout: 500 * time.Millisecond, S3WriteEvery: time.Hour}
	}
	// Each instance puts the S3 canary on its first run and reads it on
	// the next ones: a's reads find b's later body.
	a, b := instance(), instance()
	for i := range 3 {
		for j, p := range []*health.Prober{a, b} {
			r := p.Run(ctx)
			for _, v := range r.Verdicts {
				for _, pr := range v.Probes {
					if (pr.Probe == health.ProbeS3 || pr.Probe == health.ProbeDynamoDB) && !pr.OK {
						t.Fatalf("run %d of instance %d: %s probe of %s failed on a healthy lab: %s", i, j, pr.Probe, v.Region, pr.Error)
					}
				}
			}
		}
	}
}
