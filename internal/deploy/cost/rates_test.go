package cost

import (
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/deploy"
)

// The estimate's counts come from the templates: the schedules, the probe
// interval and the lease term of each profile.
func TestTemplateRates(t *testing.T) {
	for _, tc := range []struct {
		profile     string
		probe, term time.Duration
	}{{"free", time.Minute, time.Minute}, {"fast", 10 * time.Second, 20 * time.Second}} {
		r, err := templateRates(deploy.Plan{Primary: "us-east-1", DR: "us-west-2"}, tc.profile)
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]time.Duration{"primary/healthcheck": time.Minute, "dr/healthcheck": time.Minute, "dr/failovercontroller": time.Minute,
			"dr/datavalidator": 6 * time.Hour, "primary/backupmanager": 24 * time.Hour} {
			if r.Period[key] != want {
				t.Errorf("%s: %s scheduled every %s, want %s", tc.profile, key, r.Period[key], want)
			}
		}
		if got := r.duration("dr/healthcheck", "PILOTLIGHT_PROBE_INTERVAL", 0); got != tc.probe {
			t.Errorf("%s: DR probe interval %s, want %s", tc.profile, got, tc.probe)
		}
		if got := r.duration("primary/app", "PILOTLIGHT_LEASE_TERM", 0); got != tc.term {
			t.Errorf("%s: lease term %s, want %s", tc.profile, got, tc.term)
		}
	}
}

func TestRatePeriod(t *testing.T) {
	for expr, want := range map[string]time.Duration{"rate(1 minute)": time.Minute, "rate(5 minutes)": 5 * time.Minute, "rate(6 hours)": 6 * time.Hour,
		"rate(1 day)": 24 * time.Hour, "cron(0 3 * * ? *)": 24 * time.Hour} {
		if got, err := RatePeriod(expr); err != nil || got != want {
			t.Errorf("%s = %s, %v; want %s", expr, got, err, want)
		}
	}
	for _, bad := range []string{"rate(0 minutes)", "rate(1 fortnight)", "every minute", "rate(x hours)"} {
		if _, err := RatePeriod(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
