package fnenv

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

func deployment() Deployment {
	return Deployment{Names: region.Names{App: "shop"}, Primary: "us-east-1", DR: "us-west-2", FrontDoor: "http://127.0.0.1:9",
		Endpoints: map[string][]byte{"us-east-1": []byte(`{"e":1}`), "us-west-2": []byte(`{"w":2}`)}, NotifyFile: "/lab/notifications.log",
		ClockFile: func(r string) string { return "/lab/clock/" + r }, TimeServer: "127.0.0.1:123", Lease: control.LabLease,
		MinDwell: time.Minute, AgreementWait: 5 * time.Second, HealthInterval: time.Second}
}

func asMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// Each function is given the PILOTLIGHT_* settings its template gives it
// and the lab-only ones, nothing else: the orders service never sees the
// controller's failover mode, the controller never sees the health
// check's URLs.
func TestEachFunctionGetsItsTemplatesSettingsAndTheLabsOnly(t *testing.T) {
	d := deployment()
	for _, fn := range region.Functions {
		env := asMap(d.Env("us-west-2", fn, "AKID", "SECRET"))
		var got []string
		for k := range maps.Keys(env) {
			if strings.HasPrefix(k, "PILOTLIGHT_") {
				got = append(got, k)
			}
		}
		want := slices.Concat(settings[fn], labOnly)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s is given %v, want %v", fn, got, want)
		}
		if env["AWS_LAMBDA_FUNCTION_TIMEOUT"] != Timeout(fn) || env["AWS_ACCESS_KEY_ID"] != "AKID" || env["AWS_REGION"] != "us-west-2" {
			t.Errorf("%s: runtime variables %v", fn, env)
		}
	}
}

// A function's peer is the other region; the endpoints are its own
// region's view; a lab without a witness says "none", as the templates'
// parameter does.
func TestEnvNamesThePeerAndTheRegionsOwnView(t *testing.T) {
	d := deployment()
	p := asMap(d.Env("us-east-1", region.FnHealth, "A", "S"))
	dr := asMap(d.Env("us-west-2", region.FnHealth, "A", "S"))
	if p["PILOTLIGHT_PEER_REGION"] != "us-west-2" || dr["PILOTLIGHT_PEER_REGION"] != "us-east-1" {
		t.Errorf("peers %q and %q", p["PILOTLIGHT_PEER_REGION"], dr["PILOTLIGHT_PEER_REGION"])
	}
	if p["PILOTLIGHT_ENDPOINTS"] != `{"e":1}` || dr["PILOTLIGHT_CLOCK_OFFSET_FILE"] != "/lab/clock/us-west-2" {
		t.Errorf("region's own view: %q, %q", p["PILOTLIGHT_ENDPOINTS"], dr["PILOTLIGHT_CLOCK_OFFSET_FILE"])
	}
	if p["PILOTLIGHT_WITNESS_REGION"] != "none" {
		t.Errorf("no witness reads %q, want none", p["PILOTLIGHT_WITNESS_REGION"])
	}
	d.Witness, d.Manual = "us-east-2", true
	c := asMap(d.Env("us-west-2", region.FnController, "A", "S"))
	if c["PILOTLIGHT_WITNESS_REGION"] != "us-east-2" || c["PILOTLIGHT_FAILOVER_MODE"] != "manual" || c["PILOTLIGHT_LEASE_TERM"] != control.LabLease.Term.String() {
		t.Errorf("controller: %v", c)
	}
}
