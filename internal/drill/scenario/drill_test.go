package scenario_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/scenario"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/lab/parity"
	"github.com/pilotlight/pilotlight/internal/lab/remote"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/apply"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target/awstarget"
	"github.com/pilotlight/pilotlight/internal/target/labtarget"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// The lab target offers the chaos scenarios' faults.
var _ scenario.LabFaults = (*labtarget.Lab)(nil)

// startLab runs a lab with functions in this process, served like
// `pilotlight lab up` serves it, and connects to it as the CLI does.
func startLab(t *testing.T) *remote.Client {
	t.Helper()
	sv := labtest.Servers(t)
	fns := labtest.Functions(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		served <- remote.Serve(ctx, lab.Options{Primary: "us-east-1", DR: "us-west-2", Dir: dir, Servers: sv, Lag: 100 * time.Millisecond,
			Names: region.Names{App: "pilotlight"}, Logger: slog.New(slog.DiscardHandler), Functions: lab.FunctionOptions{Dir: fns},
			CheckEnv: parity.Check, Access: parity.Access, Resources: parity.Resources},
			func(remote.State) { close(ready) })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("lab serve: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-served:
		t.Fatalf("lab did not start: %v", err)
	case <-time.After(120 * time.Second):
		t.Fatal("lab not ready in 120s")
	}
	cl, err := remote.Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func env(t *testing.T, cl *remote.Client) drill.Env {
	t.Helper()
	lt, err := labtarget.New(cl)
	if err != nil {
		t.Fatal(err)
	}
	var progress io.Writer = io.Discard
	if testing.Verbose() {
		progress = os.Stderr
	}
	return drill.Env{Target: lt, Progress: progress}
}

func TestDrillsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end drill")
	}
	cl := startLab(t)
	e := env(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	t.Run("region-outage", func(t *testing.T) {
		rep, err := scenario.Run(ctx, e, drill.Options{Scenario: scenario.RegionOutage, Rate: 30, Concurrency: 6, Steady: 3 * time.Second, After: 2 * time.Second, Timeout: 60 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pass {
			t.Fatalf("drill failed: %v", rep.Failures)
		}
		// The data-validator function compared the regions after failback.
		if v := rep.Validation; v == nil || !v.Clean() || v.Items["us-east-1"] < int64(rep.Writes.Acked) || v.Objects == nil {
			t.Fatalf("validation after the drill: %+v", v)
		}
		fo := rep.Failover
		if fo == nil || fo.Epoch != 2 || fo.RTOSeconds <= 0 || fo.RTOSeconds > 30 {
			t.Fatalf("failover report: %+v", fo)
		}
		// The alarm needs 3 breaching one-second periods. A fault that lands
		// just before a period's health check makes that period breach, so
		// detection can be as short as 2 periods and a little — never less,
		// unless the alarm fired before the fault.
		if fo.Breakdown["detection"] < 1.9 {
			t.Errorf("detection %.2fs is faster than the alarm can be", fo.Breakdown["detection"])
		}
		sum := 0.0
		for _, k := range report.BreakdownOrder {
			if fo.Breakdown[k] < 0 {
				t.Errorf("%s = %.3fs: components are never negative", k, fo.Breakdown[k])
			}
			sum += fo.Breakdown[k]
		}
		if math.Abs(sum-fo.RTOSeconds) > 0.001 {
			t.Errorf("breakdown sums to %.3fs, RTO is %.3fs", sum, fo.RTOSeconds)
		}
		var phases []string
		for _, e := range fo.Journal {
			phases = append(phases, string(e.Phase))
		}
		if len(fo.Journal) != len(record.Phases) {
			t.Errorf("journal phases %v", phases)
		}
		if rep.Failback == nil || rep.Failback.Lost != 0 || rep.Failback.Epoch != 3 {
			t.Errorf("failback: %+v", rep.Failback)
		}
		if rep.FencedAcks != 0 || rep.RPO == nil {
			t.Errorf("fenced acks %d, rpo %+v", rep.FencedAcks, rep.RPO)
		}
		if rep.Writes.ByRegion["us-east-1"] == 0 || rep.Writes.ByRegion["us-west-2"] == 0 {
			t.Errorf("writes by region: %v", rep.Writes.ByRegion)
		}
		var sb strings.Builder
		report.PrintSummary(&sb, rep)
		for _, want := range []string{"region-outage drill (us-east-1 → us-west-2): PASS", "RTO", "RPO", "failback", "fenced acks"} {
			if !strings.Contains(sb.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, sb.String())
			}
		}
	})

	t.Run("no-fault", func(t *testing.T) {
		rep, err := scenario.Run(ctx, e, drill.Options{Scenario: scenario.NoFault, Rate: 30, Concurrency: 6, Steady: 2 * time.Second, After: 2 * time.Second, Timeout: 60 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pass || rep.Failover != nil || rep.Writes.Acked == 0 || len(rep.Writes.ByRegion) != 1 {
			t.Fatalf("no-fault drill: pass=%v failures=%v writes=%+v", rep.Pass, rep.Failures, rep.Writes.ByRegion)
		}
	})

	// The AWS target's drill — the outage switch, clients that follow the
	// active record to the region's own URL with signed requests, the
	// validator run from the CLI — rehearsed on the lab: the switch cuts
	// the lab region instead of denying IAM roles.
	t.Run("aws target rehearsed on the lab", func(t *testing.T) {
		sw := &labSwitch{cl: cl}
		lt := e.Target.(*labtarget.Lab)
		// The AWS target builds its own controller, from the deployed
		// failover controller's environment (here: the one the lab gave
		// its function) and control clients with one attempt.
		ctlClients, err := cl.State.Clients(1)
		if err != nil {
			t.Fatal(err)
		}
		w, err := cl.State.WitnessClients(1)
		if err != nil {
			t.Fatal(err)
		}
		if w != nil {
			ctlClients[w.Name] = w
		}
		aw := &awstarget.AWS{
			PrimaryRegion: cl.State.Primary, DRRegion: cl.State.DR, AppNames: cl.State.Names(),
			AppURLs: map[string]string{
				cl.State.Primary: cl.State.FrontDoor + "/_region/" + cl.State.Primary,
				cl.State.DR:      cl.State.FrontDoor + "/_region/" + cl.State.DR,
			},
			Outage: sw, DataClients: lt.Clients(),
			FunctionEnv: func(_ context.Context, r, fn string) (map[string]string, error) {
				if r != cl.State.DR || fn != cl.State.Names().Function(region.FnController) {
					return nil, fmt.Errorf("read %s in %s: the deployment is read from the DR region's controller", fn, r)
				}
				return cl.State.ControllerEnv, nil
			},
			ControlClients: func(r string) (*region.Clients, error) {
				if c, ok := ctlClients[r]; ok {
					return c, nil
				}
				return nil, fmt.Errorf("no lab region %s", r)
			},
			// The operator's credentials: the lab's key (the front door
			// refuses a key it did not issue, as AWS would).
			Credentials: credentials.NewStaticCredentialsProvider(cl.State.Credentials.AccessKeyID, cl.State.Credentials.SecretAccessKey, ""),
			Profile:     "fast", Poll: 200 * time.Millisecond,
		}
		defer aw.Close()
		ae := e
		ae.Target = rehearsal{AWS: aw, lab: lt}
		rep, err := scenario.Run(ctx, ae, drill.Options{Scenario: scenario.RegionOutage, Rate: 30, Concurrency: 6, Steady: 3 * time.Second, After: 2 * time.Second, Timeout: 60 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pass || rep.Target != "aws" {
			t.Fatalf("drill: pass=%v target=%s failures=%v", rep.Pass, rep.Target, rep.Failures)
		}
		if strings.Join(sw.calls, ",") != "off us-east-1,on us-east-1,off us-east-1" {
			t.Fatalf("outage switch calls: %v", sw.calls)
		}
		if fo := rep.Failover; fo == nil || fo.DetectionFloor != 30.2 || !strings.Contains(fo.FloorExplanation, "fast profile") {
			t.Fatalf("failover: %+v", fo)
		}
		if rep.Failback == nil || rep.Failback.Lost != 0 || rep.Validation == nil || !rep.Validation.Clean() {
			t.Fatalf("failback %+v, validation %+v", rep.Failback, rep.Validation)
		}
	})
}

// The shop example (testdata/shop) — two tables, one with a composite key
// and an index, and a bucket with prefixes, created by its script with the
// AWS CLI as a user would — adopted by protect scan → plan → apply and
// drilled with its own items: under the epoch guard every promise holds,
// counted from its table; under routing only the drill passes and prints
// what the tier does not promise instead of hiding it.
func TestAppDrills(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end drill")
	}
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		testenv.Missing(t, "no AWS CLI on PATH: CI must create the shop example with it (.ci/run installs Debian's awscli)", "no AWS CLI on PATH: the shop example's drill needs it to create the example")
	}
	cl := startLab(t)
	e := env(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	lt := e.Target.(*labtarget.Lab)
	p, dr := lt.Clients()[cl.State.Primary], lt.Clients()[cl.State.DR]
	create := exec.CommandContext(ctx, "../../../testdata/shop/create.sh")
	ep := cl.State.Regions[p.Name].Endpoints
	create.Env = append(os.Environ(), "AWS="+awsCLI, "AWS_ENDPOINT_URL_DYNAMODB="+ep.DynamoDB, "AWS_ENDPOINT_URL_S3="+ep.S3, "AWS_ENDPOINT_URL_LAMBDA="+ep.Lambda,
		"AWS_ACCESS_KEY_ID="+cl.State.Credentials.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+cl.State.Credentials.SecretAccessKey, "AWS_DEFAULT_REGION="+p.Name, "AWS_REGION="+p.Name)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("create.sh: %v\n%s", err, out)
	}
	pl, dl := lt.Lambda(p.Name), lt.Lambda(dr.Name)
	labT := apply.LabTarget{Primary: p.Name, DR: dr.Name, PrimaryDB: p.DynamoDB, DRDB: dr.DynamoDB, PrimaryS3: p.S3, DRS3: dr.S3,
		PrimaryLambda: pl, DRLambda: dl, Lease: lab.LeaseConfig,
		Replicate: func(ctx context.Context, a apply.Replicated) error { return cl.Replicate(ctx, replication.Adopted(a)) },
		StopReplicating: func(ctx context.Context, a apply.Replicated) error {
			return cl.StopReplicating(ctx, replication.Adopted(a))
		}}
	// scan, plan and apply, as protect does; drill --app reads the plan.
	adopt := func(sel inventory.Selector, o protect.Options, tables, buckets, functions int) *drill.App {
		t.Helper()
		inv, err := inventory.Scan(ctx, inventory.Source{Primary: p.Name, DR: dr.Name, DynamoDB: p.DynamoDB, S3: p.S3, Lambda: pl}, sel)
		if err != nil {
			t.Fatal(err)
		}
		o.App, o.ControlTable = "shop", cl.State.Names().ControlTable()
		plan, err := protect.MakePlan(inv, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Inventory.Tables) != tables || len(plan.Inventory.Buckets) != buckets || len(plan.Inventory.Functions) != functions {
			t.Fatalf("the plan: %d tables, %d buckets, %d functions", len(plan.Inventory.Tables), len(plan.Inventory.Buckets), len(plan.Inventory.Functions))
		}
		if err := apply.Lab(ctx, plan, plan.Hash, labT); err != nil {
			t.Fatal(err)
		}
		return &drill.App{Name: plan.App, Table: plan.Inventory.Tables[0].Name, Tier: string(plan.Tier), Promise: plan.Promise}
	}
	// The cart service in a region, through its function URL.
	cartURL := func(c *lambda.Client) string {
		u, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("shop-cart-api")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(u.FunctionUrl)
	}
	addLine := func(url string, n int) (int, string) {
		t.Helper()
		resp, err := http.Post(url, "application/json", strings.NewReader(fmt.Sprintf(`{"user":"url","line":%d,"sku":"sku-url","qty":1}`, n)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Active-Region")
	}
	table := "shop-carts"
	count := func(c *region.Clients) int32 {
		out, err := c.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Count
	}
	item := `{"user":{"S":"{{id}}"},"line":{"N":"{{n}}"},"sku":{"S":"drill"}}`
	opts := drill.Options{Scenario: scenario.RegionOutage, Rate: 30, Concurrency: 6, Steady: 3 * time.Second, After: 2 * time.Second, Timeout: 60 * time.Second}

	t.Run("epoch-guard", func(t *testing.T) {
		o := opts
		// The guarded part of the shop: its carts, their media and the
		// cart service, which writes through the guard package.
		o.App = adopt(inventory.Selector{Names: []string{"shop-carts", "shop-media", "shop-cart-api"}}, protect.Options{Guarded: []string{"shop-cart-api"}}, 1, 1, 1)
		if o.App.Table != table || o.App.Tier != report.EpochGuard {
			t.Fatalf("the drill's application: %+v", o.App)
		}
		// The cart service and its DR copy: the primary holds the lease,
		// so the copy's guard refuses and names it.
		if code, _ := addLine(cartURL(pl), 1); code != http.StatusCreated {
			t.Fatalf("the cart service in %s answered %d", p.Name, code)
		}
		if code, active := addLine(cartURL(dl), 2); code != http.StatusServiceUnavailable || active != p.Name {
			t.Fatalf("the cart service's DR copy answered %d naming %q, want 503 naming %s", code, active, p.Name)
		}
		o.App.Item = item
		rep, err := scenario.Run(ctx, e, o)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pass {
			t.Fatalf("drill failed: %v", rep.Failures)
		}
		if rep.App == nil || rep.App.Tier != "epoch-guard" || len(rep.NotPromised) != 0 {
			t.Fatalf("app %+v, not promised %v", rep.App, rep.NotPromised)
		}
		if rep.Failover == nil || rep.RPO == nil || rep.Failback == nil || rep.Failback.Lost != 0 || rep.FencedAcks != 0 || rep.SplitBrain != 0 {
			t.Fatalf("failover %+v, rpo %+v, failback %+v, fenced %d, split brain %d", rep.Failover, rep.RPO, rep.Failback, rep.FencedAcks, rep.SplitBrain)
		}
		if rep.Writes.ByRegion[p.Name] == 0 || rep.Writes.ByRegion[dr.Name] == 0 {
			t.Fatalf("writes by region: %v", rep.Writes.ByRegion)
		}
		// Counted from the user's table: every acknowledged write is an
		// item of it, in both regions.
		if n, m := count(p), count(dr); int(n) < rep.Writes.Acked || n != m {
			t.Fatalf("%s holds %d items in %s and %d in %s, %d writes acknowledged", table, n, p.Name, m, dr.Name, rep.Writes.Acked)
		}
		// Failed back: the primary's cart service takes writes again, and
		// the copy is fenced again.
		if code, _ := addLine(cartURL(pl), 3); code != http.StatusCreated {
			t.Fatalf("after the failback the cart service in %s answered %d", p.Name, code)
		}
		if code, _ := addLine(cartURL(dl), 4); code != http.StatusServiceUnavailable {
			t.Fatalf("after the failback the DR copy answered %d, want 503", code)
		}
		var sb strings.Builder
		report.PrintSummary(&sb, rep)
		for _, want := range []string{"application: shop (table shop-carts), fencing tier epoch-guard", "promise: no split brain", "RPO"} {
			if !strings.Contains(sb.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, sb.String())
			}
		}
	})

	t.Run("routing-only", func(t *testing.T) {
		o := opts
		// The whole shop, the mailer (no guard) too: routing only.
		o.App = adopt(inventory.Selector{Prefix: "shop-"}, protect.Options{Tier: protect.RoutingOnly}, 2, 1, 2)
		if o.App.Tier != "routing-only" {
			t.Fatalf("the drill's application: %+v", o.App)
		}
		// Nothing fences the mailer's DR copy: invoked there while the
		// primary is active, its write lands — what routing only means.
		out, err := dl.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("shop-mailer"), Payload: []byte(`{"user":"mailed-in-dr"}`)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("the mailer's DR copy: %v %s", err, out.Payload)
		}
		if g, err := dr.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("shop-users"), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "mailed-in-dr"}}}); err != nil || g.Item == nil {
			t.Fatalf("the mailer's unfenced write in %s: %v %v", dr.Name, g, err)
		}
		rep, err := scenario.Run(ctx, e, o)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Pass {
			t.Fatalf("a routing-only drill failed on what its tier does not promise: %v", rep.Failures)
		}
		if rep.Failover == nil || rep.RPO == nil || rep.Failback == nil {
			t.Fatalf("failover %+v, rpo %+v, failback %+v", rep.Failover, rep.RPO, rep.Failback)
		}
		// What the tier does not promise is measured and printed, never
		// dropped: each breach counted is a line of the report.
		if (rep.FencedAcks > 0 || rep.SplitBrain > 0 || rep.Failback.Lost > 0) != (len(rep.NotPromised) > 0) {
			t.Fatalf("fenced %d, split brain %d, failback lost %d, but not promised: %v", rep.FencedAcks, rep.SplitBrain, rep.Failback.Lost, rep.NotPromised)
		}
		var sb strings.Builder
		report.PrintSummary(&sb, rep)
		if !strings.Contains(sb.String(), "fencing tier routing-only") || !strings.Contains(sb.String(), "RPO is not bounded") {
			t.Errorf("summary:\n%s", sb.String())
		}
		t.Logf("routing only: %d fenced acks, %d split-brain commits, %d lost on failback", rep.FencedAcks, rep.SplitBrain, rep.Failback.Lost)
	})

	// The orders service's scenarios are refused on an application.
	o := opts
	o.Scenario, o.App = scenario.FailbackLag, &drill.App{Name: "shop", Table: table}
	if _, err := scenario.Run(ctx, e, o); err == nil || !strings.Contains(err.Error(), "orders service") {
		t.Errorf("failback-lag on an application: %v", err)
	}
	// A table with no replica in the DR region (never applied, or a lab
	// started afresh) is refused before the drill starts, naming the fix.
	if _, err := p.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("shop-orphan"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}}}); err != nil {
		t.Fatal(err)
	}
	o.Scenario, o.App = scenario.RegionOutage, &drill.App{Name: "shop", Table: "shop-orphan"}
	if _, err := scenario.Run(ctx, e, o); err == nil || !strings.Contains(err.Error(), "no replica in "+dr.Name) {
		t.Errorf("an application table without a replica: %v", err)
	}
}

// labSwitch is the outage switch of the rehearsal: a lab region cut.
type labSwitch struct {
	cl    *remote.Client
	calls []string
}

func (s *labSwitch) On(ctx context.Context, r string) ([]string, error) {
	s.calls = append(s.calls, "on "+r)
	return []string{"lab:" + r}, s.cl.Cut(ctx, r, "")
}

func (s *labSwitch) Off(ctx context.Context, r string) error {
	s.calls = append(s.calls, "off "+r)
	return s.cl.Restore(ctx, r)
}

// rehearsal is the AWS target, its own controller included, with the lab's
// failback object replication standing in for the DR stack's replication
// rule back to the primary.
type rehearsal struct {
	*awstarget.AWS
	lab *labtarget.Lab
}

func (r rehearsal) FailbackReplication(ctx context.Context, on bool) error {
	return r.lab.FailbackReplication(ctx, on)
}

// TestChaosScenarios runs every chaos scenario on one lab: each asserts its
// expected outcome, and every drill checks the invariants (no overlapping
// leases, no split-brain commits from the data, the validator clean).
func TestChaosScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos drills")
	}
	cl := startLab(t)
	e := env(t, cl)
	for _, sc := range scenario.Scenarios {
		if sc == scenario.RegionOutage || sc == scenario.NoFault {
			continue // TestDrillsEndToEnd
		}
		t.Run(string(sc), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			// The lab here runs inside this race-instrumented test binary
			// (its proxies and write-time fronts too), which slows every
			// lease renewal: `make chaos` meets the ≥ 95% target (100%
			// measured); here 94.9-100% was measured, so this asks 90% and
			// still fails on a primary whose renewals lapse.
			rep, err := scenario.Run(ctx, e, drill.Options{Scenario: sc, Rate: 30, Concurrency: 6, Steady: 2 * time.Second, After: 2 * time.Second,
				Timeout: 60 * time.Second, FaultFor: 8 * time.Second, MinAckRatio: 0.9,
				// 200 writes/s is more than this race-instrumented binary,
				// which also runs the lab, can carry with the drill's own
				// checks inside their deadlines: `make chaos` runs load at
				// 200/s; here the same scenario and bound at 100/s.
				LoadRate: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass {
				t.Fatalf("%s: expected %s; observed %s; failures: %v", sc, rep.Expected, rep.Observed, rep.Failures)
			}
			if rep.SplitBrain != 0 || rep.LeaseOverlaps != 0 || rep.Validation == nil || !rep.Validation.Clean() {
				t.Fatalf("%s: invariants: split brain %d, overlaps %d, validation %+v", sc, rep.SplitBrain, rep.LeaseOverlaps, rep.Validation)
			}
			if rep.Observed == "" {
				t.Errorf("%s: the report says nothing of what was observed", sc)
			}
		})
	}
}
