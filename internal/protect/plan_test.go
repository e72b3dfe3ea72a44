package protect

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// shop is an application that is not the orders service: a composite-key
// table with a GSI, a second table, a bucket, and two functions.
func shop() inventory.Inventory {
	carts := inventory.Table{Name: "shop-carts", ARN: "arn:aws:dynamodb:us-east-1:111122223333:table/shop-carts", Billing: "PAY_PER_REQUEST", Encryption: "owned", Stream: "NEW_AND_OLD_IMAGES", PITR: true,
		Keys:       []inventory.Key{{Name: "user", Type: "S", Role: "HASH"}, {Name: "line", Type: "N", Role: "RANGE"}},
		Attributes: []inventory.Key{{Name: "user", Type: "S"}, {Name: "line", Type: "N"}, {Name: "sku", Type: "S"}},
		Indexes:    []inventory.Index{{Name: "by-sku", Keys: []inventory.Key{{Name: "sku", Type: "S", Role: "HASH"}}, Projection: "KEYS_ONLY"}}}
	users := inventory.Table{Name: "shop-users", Billing: "PAY_PER_REQUEST", Encryption: "owned", Keys: []inventory.Key{{Name: "id", Type: "S", Role: "HASH"}}, Attributes: []inventory.Key{{Name: "id", Type: "S"}}, TTL: "expires"}
	media := inventory.Bucket{Name: "shop-media"}
	inv := inventory.Inventory{Primary: "us-east-1", DR: "us-west-2", Selector: inventory.Selector{Prefix: "shop-"},
		Tables: []inventory.Table{carts, users}, Buckets: []inventory.Bucket{media},
		Functions: []inventory.Function{
			{Name: "shop-api", Runtime: "provided.al2023", Handler: "bootstrap", Architecture: "arm64", PackageType: "Zip", Memory: 256, Timeout: 10, Role: "arn:aws:iam::111122223333:role/shop-api", URL: "https://x.lambda-url.us-east-1.on.aws/", URLAuth: "NONE"},
			{Name: "shop-mailer", Runtime: "nodejs24.x", Handler: "index.handler", Architecture: "x86_64", PackageType: "Zip", Memory: 128, Timeout: 30, Role: "arn:aws:iam::111122223333:role/shop-mailer"},
		}}
	inv.Preflight(today)
	return inv
}

var today = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

var opts = Options{App: "shop", ControlTable: "pilotlight-control"}

// The plan names the tier the application gets and never claims more: an
// application with a function that does not use the guard package cannot
// be planned at the epoch-guard tier, and a plan without functions gets
// routing only, with its weaker promise printed.
func TestTierNeverClaimsMore(t *testing.T) {
	inv := shop()
	p, err := MakePlan(inv, opts)
	if err != nil || p.Tier != KillSwitch {
		t.Fatalf("unguarded functions: tier %s (%v), want kill-switch", p.Tier, err)
	}
	o := opts
	o.Tier = EpochGuard
	if _, err := MakePlan(inv, o); err == nil || !strings.Contains(err.Error(), "shop-api") {
		t.Fatalf("epoch guard with unguarded functions: %v, want a refusal naming them", err)
	}
	o.Guarded = []string{"shop-api", "shop-mailer"}
	if p, err = MakePlan(inv, o); err != nil || p.Tier != EpochGuard || p.Stated == "" {
		t.Fatalf("every function guarded: %s %q %v", p.Tier, p.Stated, err)
	}
	if strings.Join(p.Guarded, ",") != "shop-api,shop-mailer" || p.ControlTable != "pilotlight-control" {
		t.Fatalf("the guarded functions %v are not given the control table (%q)", p.Guarded, p.ControlTable)
	}
	if strings.Contains(string(p.Templates["shop-protect-us-west-2"]), "AWS::Lambda::Function") {
		t.Fatal("a DR copy is in a template: its environment's values would have to be too")
	}
	o.Guarded = []string{"nope"}
	if _, err := MakePlan(inv, o); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("--guarded naming no function: %v", err)
	}
	inv.Functions = nil
	if p, err = MakePlan(inv, opts); err != nil || p.Tier != RoutingOnly || !strings.Contains(p.Promise, "not bounded") {
		t.Fatalf("no functions: tier %s, promise %q (%v)", p.Tier, p.Promise, err)
	}
	var out strings.Builder
	p.WriteText(&out)
	if !strings.Contains(out.String(), "routing-only") || !strings.Contains(out.String(), "may lose writes") {
		t.Fatalf("the plan's text hides the routing-only promise:\n%s", out.String())
	}
}

// Every preflight blocker stops the plan and is named with its fix; a
// replica key resolves the KMS ones.
func TestPlanRefusesBlockers(t *testing.T) {
	cases := []struct {
		name, want string
		mutate     func(*inventory.Inventory)
		key        string
	}{
		{"stream view type", "NEW_AND_OLD_IMAGES", func(i *inventory.Inventory) { i.Tables[0].Stream = "KEYS_ONLY" }, ""},
		{"old global table", "2019.11.21", func(i *inventory.Inventory) { i.Tables[0].Version = "2017.11.29" }, ""},
		{"table with a customer key", "--replica-key", func(i *inventory.Inventory) { i.Tables[0].Encryption = "arn:aws:kms:us-east-1:111122223333:key/k" }, "shop-carts"},
		{"provisioned without auto scaling", "on-demand", func(i *inventory.Inventory) { i.Tables[1].Billing = "PROVISIONED" }, ""},
		{"bucket with SSE-KMS", "--replica-key", func(i *inventory.Inventory) { i.Buckets[0].Encryption = "aws:kms" }, "shop-media"},
		{"deprecated runtime", "deprecated", func(i *inventory.Inventory) { i.Functions[1].Runtime = "nodejs14.x" }, ""},
		{"container image", "ECR", func(i *inventory.Inventory) { i.Functions[0].PackageType = "Image" }, ""},
		{"DR region without function URLs", "function URLs", func(i *inventory.Inventory) { i.DR = "il-central-1" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := shop()
			tc.mutate(&inv)
			inv.Preflight(today)
			if inv.Blockers() != 1 {
				t.Fatalf("%d blockers, want 1", inv.Blockers())
			}
			_, err := MakePlan(inv, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fix") && !strings.Contains(err.Error(), "—") {
				t.Fatalf("plan: %v, want a blocker naming %q and its fix", err, tc.want)
			}
			if tc.key != "" {
				o := opts
				o.ReplicaKeys = map[string]string{tc.key: "arn:aws:kms:us-west-2:111122223333:key/r"}
				if _, err := MakePlan(inv, o); err != nil {
					t.Fatalf("with a replica key: %v", err)
				}
			}
		})
	}
}

// apply takes a plan only by its hash, and a plan edited after review no
// longer matches it.
func TestPlanHashBindsTheReviewedPlan(t *testing.T) {
	p, err := MakePlan(shop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(p.Hash); err != nil {
		t.Fatalf("the plan read back: %v", err)
	}
	if err := back.Verify("0123456789abcdef"); err == nil {
		t.Fatal("another hash was accepted")
	}
	back.Steps[0].Action = "delete everything"
	if err := back.Verify(p.Hash); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("an edited plan: %v", err)
	}
}

// Steps that change the user's own resources are marked, and none deletes
// their data: the table is imported with DeletionPolicy Retain, never
// replaced by a type change.
func TestPlanMarksChangesAndRetains(t *testing.T) {
	p, err := MakePlan(shop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var yours []string
	for _, s := range p.Steps {
		if s.Yours {
			yours = append(yours, s.Resource+": "+s.Action)
		}
	}
	joined := strings.Join(yours, "\n")
	for _, want := range []string{"table shop-users: enable its stream", "table shop-carts: add a replica", "bucket shop-media: enable versioning", "bucket shop-media: add replication rule"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no marked step %q in:\n%s", want, joined)
		}
	}
	var tpl struct {
		Resources map[string]struct {
			Type           string
			DeletionPolicy string
		}
	}
	if err := json.Unmarshal(p.Templates["shop-protect-us-east-1"], &tpl); err != nil {
		t.Fatal(err)
	}
	for id, r := range tpl.Resources {
		if r.Type == "AWS::DynamoDB::GlobalTable" && r.DeletionPolicy != "Retain" {
			t.Errorf("%s is imported without DeletionPolicy Retain", id)
		}
	}
	if _, ok := tpl.Resources["TableShopCarts"]; !ok {
		t.Errorf("no global table for shop-carts in %v", tpl.Resources)
	}
}

// The CloudFormation a plan applies passes cfn-lint, in both regions.
func TestPlanTemplatesPassCfnLint(t *testing.T) {
	inv := shop()
	inv.Tables[0].Encryption = "arn:aws:kms:us-east-1:111122223333:key/k"
	inv.Preflight(today)
	inv.Buckets[0].ObjectLock = true
	o := opts
	o.ReplicaKeys = map[string]string{"shop-carts": "arn:aws:kms:us-west-2:111122223333:key/r"}
	o.Guarded = []string{"shop-api", "shop-mailer"}
	p, err := MakePlan(inv, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Templates) != 2 {
		t.Fatalf("%d templates, want one per region", len(p.Templates))
	}
	LintPlan(t, p)
}

// LintPlan runs cfn-lint on a plan's templates, warnings included (for the
// tests of this package and of protect_test).
func LintPlan(t *testing.T, p Plan) {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		testenv.Missing(t, "cfn-lint not found: CI must lint protect's templates (the machine image provides cfn-lint 1.51)", "cfn-lint not found: install it to lint protect's templates")
	}
	dir := t.TempDir()
	var files []string
	for name, tpl := range p.Templates {
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, tpl, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	out, err := exec.Command(bin, append([]string{"--non-zero-exit-code", "warning", "--regions", p.Primary, p.DR, "--"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}

// The ARC export passes cfn-lint, and keeps pilotlight's fencing out of the
// custom-Lambda block ARC skips in an ungraceful run: that block is marked
// skip, and a routing step follows it in both workflows.
func TestARCExport(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		testenv.Missing(t, "cfn-lint not found: CI must lint the ARC export (the machine image provides cfn-lint 1.51)", "cfn-lint not found: install it to lint the ARC export")
	}
	p, err := MakePlan(shop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ARCTemplate(p, ARC{}); err == nil {
		t.Fatal("an export without the controller's name was accepted")
	}
	b, err := ARCTemplate(p, ARC{Controller: "pilotlight-failovercontroller", HostedZoneID: "Z123", RecordName: "shop.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Properties struct {
				Workflows []struct {
					WorkflowTargetRegion string
					Steps                []struct {
						ExecutionBlockType          string
						ExecutionBlockConfiguration map[string]map[string]any
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	wf := tpl.Resources["RegionSwitchPlan"].Properties.Workflows
	if len(wf) != 2 {
		t.Fatalf("%d workflows, want one per region", len(wf))
	}
	for _, w := range wf {
		if len(w.Steps) != 2 || w.Steps[0].ExecutionBlockType != "CustomActionLambda" || w.Steps[1].ExecutionBlockType != "Route53HealthCheck" {
			t.Fatalf("workflow to %s: %+v", w.WorkflowTargetRegion, w.Steps)
		}
		if u, _ := w.Steps[0].ExecutionBlockConfiguration["CustomActionLambdaConfig"]["Ungraceful"].(map[string]any); u["Behavior"] != "skip" {
			t.Errorf("the custom-Lambda step to %s does not say it is skipped in an ungraceful run: %v", w.WorkflowTargetRegion, u)
		}
	}
	f := filepath.Join(t.TempDir(), "arc.json")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--non-zero-exit-code", "warning", "--regions", "us-east-1", "--", f).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}
