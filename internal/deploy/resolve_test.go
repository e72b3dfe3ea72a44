package deploy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/cloudformation"
	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/deploy/cfn"
	"github.com/pilotlight/pilotlight/internal/region"
)

func TestResolverResolvesTheDRTemplatesFunctions(t *testing.T) {
	tpl, err := cfn.Parse("dr-region.yaml", cloudformation.DR)
	if err != nil {
		t.Fatal(err)
	}
	p := Plan{Names: region.Names{App: "shop", Account: "123456789012"}, Primary: "us-east-1", DR: "us-west-2", Witness: "us-east-2", Profile: "fast", FailoverMode: "manual"}
	r := &cfn.Resolver{T: tpl, Params: p.DRParameters(nil, "https://primary.example/"), Region: "us-west-2", Account: "123456789012",
		Attr: func(id, attr string) (string, bool) {
			switch id + "." + attr {
			case "AppFunctionUrl.FunctionUrl":
				return "https://dr.example/", true
			case "NotificationTopic.":
				return "arn:aws:sns:us-west-2:123456789012:shop-failover", true
			}
			return "", false
		}}
	fns, err := r.Functions()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cfn.Function{}
	for _, f := range fns {
		byName[f.Name] = f
	}
	if len(fns) != 5 {
		t.Fatalf("want the DR region's 5 functions, got %d: %v", len(fns), byName)
	}
	c := byName["shop-failovercontroller"]
	for k, want := range map[string]string{
		"PILOTLIGHT_ALARM_NAME": "shop-primary-unhealthy", "PILOTLIGHT_FAILOVER_MODE": "manual", "PILOTLIGHT_LEASE_TERM": "20s",
		"PILOTLIGHT_WITNESS_REGION": "us-east-2", "PILOTLIGHT_ACCOUNT": "123456789012", "PILOTLIGHT_NOTIFY_TOPIC": "arn:aws:sns:us-west-2:123456789012:shop-failover",
	} {
		if c.Env[k] != want {
			t.Errorf("controller %s = %q, want %q", k, c.Env[k], want)
		}
	}
	if c.Timeout != 120 || c.MemoryMB != 128 {
		t.Errorf("controller timeout %d s, memory %d MB", c.Timeout, c.MemoryMB)
	}
	if got := byName["shop-healthcheck"].Env["PILOTLIGHT_APP_URLS"]; got != `{"us-west-2":"https://dr.example/","us-east-1":"https://primary.example/"}` {
		t.Errorf("health check app URLs = %s", got)
	}
	// The free profile flips every Fn::If on the Fast condition.
	r.Params["DetectionProfile"] = "free"
	fns, err = r.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		if f.Name == "shop-healthcheck" && (f.Env["PILOTLIGHT_PROBE_INTERVAL"] != "60s" || f.Env["PILOTLIGHT_LEASE_TERM"] != "60s") {
			t.Errorf("free profile health check: %v", f.Env)
		}
	}
}

func TestResolverNamesWhatItCannotResolve(t *testing.T) {
	tpl, err := cfn.Parse("dr-region.yaml", cloudformation.DR)
	if err != nil {
		t.Fatal(err)
	}
	r := &cfn.Resolver{T: tpl, Params: map[string]string{"PrimaryRegion": "us-east-1"}, Region: "us-west-2", Account: "123456789012"}
	_, err = r.Functions()
	if err == nil || !strings.Contains(err.Error(), "AppFunctionUrl.FunctionUrl") && !strings.Contains(err.Error(), "Ref NotificationTopic") {
		t.Fatalf("err = %v, want one naming the unresolved attribute", err)
	}
	if _, err := r.Value(map[string]any{"Ref": "NoSuchThing"}); err == nil || !strings.Contains(err.Error(), "NoSuchThing") {
		t.Errorf("Ref of nothing: %v", err)
	}
	if _, err := r.Value(map[string]any{"Fn::If": []any{"NoCondition", "a", "b"}}); err == nil || !strings.Contains(err.Error(), "NoCondition") {
		t.Errorf("Fn::If on an unknown condition: %v", err)
	}
}

// Every control table expires what the code gives an expiry: the journaled
// lease intervals. (At aa72caa no template enabled TTL on a control table.)
func TestControlTablesExpireTheJournal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   []byte
		params map[string]string
	}{
		{"primary-region.yaml", cloudformation.Primary, map[string]string{"DRRegion": "us-west-2"}},
		{"dr-region.yaml", cloudformation.DR, map[string]string{"PrimaryRegion": "us-east-1"}},
		{"witness-region.yaml", cloudformation.Witness, nil},
	} {
		tpl, err := cfn.Parse(tc.name, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		r := &cfn.Resolver{T: tpl, Params: tc.params, Region: "us-east-2", Account: "123456789012",
			Attr: func(string, string) (string, bool) { return "x", true }}
		tables, err := r.Tables()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		found := false
		for _, tb := range tables {
			if strings.HasSuffix(tb.Name, "-control") {
				found = true
				if tb.TTL != control.ExpireAttr {
					t.Errorf("%s: control table TTL on %q, want %q", tc.name, tb.TTL, control.ExpireAttr)
				}
			}
		}
		if !found {
			t.Errorf("%s: no control table", tc.name)
		}
	}
}

// The DR region prunes its own copies of the snapshots (version deletes do
// not replicate): a daily rule asks its backup manager to prune, with a
// request the function parses. (At aa72caa nothing pruned the DR bucket.)
func TestDRPrunesItsSnapshots(t *testing.T) {
	tpl, err := cfn.Parse("dr-region.yaml", cloudformation.DR)
	if err != nil {
		t.Fatal(err)
	}
	props, _ := tpl.Resources["BackupPruneSchedule"]["Properties"].(map[string]any)
	targets, _ := props["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("BackupPruneSchedule targets: %v", props)
	}
	tg, _ := targets[0].(map[string]any)
	arn, _ := tg["Arn"].(map[string]any)
	input, _ := tg["Input"].(string)
	if ga := fmt.Sprint(arn["Fn::GetAtt"]); !strings.Contains(ga, "BackupManagerFunction") {
		t.Fatalf("the prune rule invokes %v, want the backup manager", arn)
	}
	req, err := backup.ParseRequest([]byte(input))
	if err != nil || req.Action != backup.ActionPrune {
		t.Fatalf("the prune rule's input %q parses to %+v, %v", input, req, err)
	}
}
