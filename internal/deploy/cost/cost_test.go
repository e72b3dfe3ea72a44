package cost

import (
	"testing"

	"github.com/pilotlight/pilotlight/internal/deploy"
)

func TestEstimate(t *testing.T) {
	p := deploy.Plan{Profile: "free"}
	var free, fast float64
	lines, err := Estimate(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if !l.Aside {
			free += l.Free
			fast += l.Fast
		}
	}
	// Fast costs more (high-resolution alarms, probes every 10 s), and a
	// hosted zone adds Route 53.
	if free <= 0 || fast <= free {
		t.Fatalf("free $%.2f, fast $%.2f", free, fast)
	}
	// The health checks' compute is counted as they really run: every run,
	// in both regions, stays for its renewal window (two minutes), not one
	// second. (At aa72caa the estimate assumed 1 s runs: 11k GB-s.)
	f, err := estimateFigures(p, "free")
	if err != nil {
		t.Fatal(err)
	}
	healthGBs := 2 * float64(30*24*60) * 120 * 128 / 1024
	if f.gbs < healthGBs {
		t.Fatalf("free profile: %.0f GB-s a month, less than the health checks' own %.0f", f.gbs, healthGBs)
	}
	if free < (healthGBs-lambdaFreeGBSeconds)*lambdaPerGBSecondArm {
		t.Fatalf("free profile $%.2f a month: less than the health checks' compute beyond the free tier", free)
	}
	if Metrics > 10 {
		t.Fatalf("%d custom metrics: more than the free tier's 10", Metrics)
	}
	p.HostedZoneID = "Z1"
	var withZone float64
	lines, err = Estimate(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if !l.Aside {
			withZone += l.Free
		}
	}
	if withZone-free < 0.99 {
		t.Fatalf("a hosted zone adds $%.2f, want $1.00", withZone-free)
	}
}
