package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target"
	"github.com/pilotlight/pilotlight/internal/timeline"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// fakeTarget is the target the commands' tests connect to. Its data plane
// is real: tables, buckets and control records of the test's own in the
// shared lab's DynamoDB Local and versitygw, in three regions. What no local
// server plays is faked and recorded: routing (the primary is down while
// primaryDown), failback replication, what the lab would replicate, the
// detection floor, the target's own events; it runs no functions.
type fakeTarget struct {
	names   region.Names
	clients map[string]*region.Clients
	stores  map[string]*control.Store

	mu           sync.Mutex
	primaryDown  bool
	failbackRepl []bool
	closed       int
	adopted      []replication.Adopted // what protect apply asked the lab to replicate, less what remove stopped
	injected     []string              // the regions Inject cut, in order
	healed       []string              // the regions Heal restored, in order

	// Set by serveDrill, for drills (zero otherwise): each region's orders
	// service, the failback's drain, what the outage sets off (the
	// alarm's invocations of the controller, started in the background)
	// and the lab's failback switch.
	orders   map[string]string
	drain    failover.Drainer
	onOutage func()
	failback func(on bool)
}

const (
	fakePrimary = "us-east-1"
	fakeDR      = "us-west-2"
	fakeWitness = "us-east-2"
)

// fakeLease is short, so a forced run waits out a grant quickly.
var fakeLease = control.LeaseConfig{Term: 600 * time.Millisecond, Epsilon: 50 * time.Millisecond, Delta: 150 * time.Millisecond}

func newFakeTarget(t *testing.T) *fakeTarget {
	t.Helper()
	names := labtest.Provision(t, "cmd")
	p, dr := labtest.Clients(t, 0)
	return &fakeTarget{names: names, clients: map[string]*region.Clients{p.Name: p, dr.Name: dr}, stores: labtest.Stores(t, names, 1)}
}

var _ target.Target = (*fakeTarget)(nil)

func (f *fakeTarget) Kind() target.Kind                   { return "fake" }
func (f *fakeTarget) Primary() string                     { return fakePrimary }
func (f *fakeTarget) DR() string                          { return fakeDR }
func (f *fakeTarget) Names() region.Names                 { return f.names }
func (f *fakeTarget) Clients() map[string]*region.Clients { return f.clients }
func (f *fakeTarget) URL() string {
	if f.orders == nil {
		return "http://fake.invalid"
	}
	r, _ := f.Routed(context.Background())
	return f.orders[r]
}

func (f *fakeTarget) RegionURL(r string) string {
	if f.orders == nil {
		return "http://fake.invalid/" + r
	}
	return f.orders[r]
}
func (f *fakeTarget) HTTP() *http.Client                  { return http.DefaultClient }
func (f *fakeTarget) OutageProfile() target.OutageProfile { return target.OutageProfile{} }
func (f *fakeTarget) Prepare(context.Context) error       { return nil }
func (f *fakeTarget) Events(context.Context, time.Time) []timeline.Event {
	return []timeline.Event{{At: time.Now().UTC(), Kind: "fake", Detail: "nothing happened"}}
}

func (f *fakeTarget) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
}

func (f *fakeTarget) Inject(_ context.Context, r string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.primaryDown = r == fakePrimary
	f.injected = append(f.injected, r)
	if f.onOutage != nil {
		f.onOutage() // starts the alarm's invocations; returns at once
	}
	return "fake outage of " + r, nil
}

func (f *fakeTarget) Heal(_ context.Context, r string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r == "" || r == fakePrimary {
		f.primaryDown = false
	}
	f.healed = append(f.healed, r)
	return nil
}

func (f *fakeTarget) healthy(_ context.Context, r string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return r != fakePrimary || !f.primaryDown, nil
}

func (f *fakeTarget) Controller(context.Context) (*failover.Controller, error) {
	return failover.New(failover.Config{Stores: f.stores, Names: f.names,
		Deployment: failover.Deployment{Primary: fakePrimary, DR: fakeDR, Witness: fakeWitness, Lease: fakeLease},
		Probe: probeFunc(func(ctx context.Context, r string) error {
			if up, _ := f.healthy(ctx, r); !up {
				return fmt.Errorf("fake outage of %s", r)
			}
			return nil
		}),
		Routing: routingFunc(f.healthy), Drain: f.drain, FenceTimeout: 500 * time.Millisecond}), nil
}

type probeFunc func(ctx context.Context, region string) error

func (p probeFunc) Probe(ctx context.Context, r string) error { return p(ctx, r) }

type routingFunc func(ctx context.Context, region string) (bool, error)

func (h routingFunc) Healthy(ctx context.Context, r string) (bool, error) { return h(ctx, r) }

func (f *fakeTarget) Invoke(_ context.Context, r, function string, _ []byte) ([]byte, error) {
	return nil, fmt.Errorf("the fake target runs no functions (%s in %s)", function, r)
}

func (f *fakeTarget) Validate(context.Context) (*verdict.Report, error) {
	return &verdict.Report{Primary: fakePrimary, DR: fakeDR}, nil
}

// Observe answers as failover routing does: the primary while it is up
// and the active region, the DR region otherwise.
func (f *fakeTarget) Observe(ctx context.Context) (target.Observation, error) {
	up, _ := f.healthy(ctx, fakePrimary)
	answer := fakePrimary
	if a, err := f.stores[fakePrimary].Active(ctx); !up || (err == nil && a.Region != fakePrimary) {
		answer = fakeDR
	}
	return target.Observation{Routing: map[string]bool{fakePrimary: up, fakeDR: true}, Answer: answer}, nil
}

func (f *fakeTarget) FailbackReplication(_ context.Context, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failbackRepl = append(f.failbackRepl, on)
	if f.failback != nil {
		f.failback(on)
	}
	return nil
}

// Replicate and StopReplicating make the fake a lab for protect apply and
// remove: they record what the lab's replicators would adopt.
func (f *fakeTarget) Replicate(_ context.Context, a replication.Adopted) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adopted = append(f.adopted, a)
	return nil
}

func (f *fakeTarget) StopReplicating(_ context.Context, a replication.Adopted) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adopted = slices.DeleteFunc(f.adopted, func(b replication.Adopted) bool { return b == a })
	return nil
}

var _ replicator = (*fakeTarget)(nil)

func (f *fakeTarget) Routed(ctx context.Context) (string, bool) {
	o, _ := f.Observe(ctx)
	return o.Answer, true
}

func (f *fakeTarget) DetectionFloor(context.Context) (time.Duration, string) {
	return 4 * time.Second, "fake: 4 s"
}

// runFake runs a command line against f, in dir, and returns what it wrote.
func runFake(t *testing.T, f *fakeTarget, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	code, errs := runFakeTo(ctx, t, f, dir, &out, args...)
	return result{code, out.String(), errs}
}

// runFakeTo runs a command line against f until it ends or ctx does, its
// output to out; it returns the exit code and what went to stderr.
func runFakeTo(ctx context.Context, t *testing.T, f *fakeTarget, dir string, out io.Writer, args ...string) (int, string) {
	t.Helper()
	env, err := envFile(dir)
	if err != nil {
		t.Error(err)
		return 2, ""
	}
	var errb bytes.Buffer
	var connected atomic.Int32
	g := &globals{io: streams{In: strings.NewReader(""), Out: out, Err: &errb},
		environ: []string{"PILOTLIGHT_LAB_DIR=" + filepath.Join(dir, ".lab"), "PILOTLIGHT_PROTECT_DIR=" + filepath.Join(dir, "protect"),
			"PILOTLIGHT_REPORTS_DIR=" + filepath.Join(dir, "reports"), "HOME=" + dir},
		connect: func(_ *cobra.Command, s config.Settings) (target.Target, error) {
			connected.Add(1)
			return f, nil
		},
		// The fake is running already: nothing to start.
		startLab: func(*cobra.Command, *globals, config.Settings, io.Writer) error { return nil }}
	code := execute(ctx, g, append([]string{"--env-file", env}, args...))
	if connected.Load() == 0 && code != 2 {
		t.Errorf("pilotlight %s did not connect to its target", strings.Join(args, " "))
	}
	return code, errb.String()
}

// Every command that acts on a target is driven here by a fake one: the
// commands are tested for what they do with a target, not for the lab's or
// AWS's way of being one.
func TestCommandsOnAFakeTarget(t *testing.T) {
	f := newFakeTarget(t)
	dir := t.TempDir()
	mustRun := func(t *testing.T, want int, args ...string) result {
		t.Helper()
		r := runFake(t, f, dir, args...)
		if r.code != want {
			t.Fatalf("pilotlight %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.out, r.err)
		}
		return r
	}
	statusJSON := func(t *testing.T) statusDoc {
		t.Helper()
		var doc statusDoc
		if err := json.Unmarshal([]byte(mustRun(t, 0, "status", "--json").out), &doc); err != nil {
			t.Fatalf("status --json: %v", err)
		}
		return doc
	}

	t.Run("status", func(t *testing.T) {
		doc := statusJSON(t)
		if doc.Active != fakePrimary || len(doc.Regions) != 3 {
			t.Fatalf("status: active %q with %d regions, want %s with 3 (primary, DR, witness): %+v", doc.Active, len(doc.Regions), fakePrimary, doc)
		}
		if out := mustRun(t, 0, "status").out; !strings.Contains(out, fakePrimary) || !strings.Contains(out, fakeWitness) {
			t.Errorf("status names neither the active region nor the witness:\n%s", out)
		}
	})

	t.Run("failover dry run changes nothing", func(t *testing.T) {
		before := statusJSON(t)
		out := mustRun(t, 0, "failover", "--planned", "--dry-run").out
		if !strings.Contains(out, "stop writes in "+fakePrimary) {
			t.Errorf("the plan does not say it stops writes in %s:\n%s", fakePrimary, out)
		}
		if after := statusJSON(t); after.Epoch != before.Epoch || after.Active != before.Active {
			t.Errorf("a dry run moved the records: %s@%d → %s@%d", before.Active, before.Epoch, after.Active, after.Epoch)
		}
	})

	t.Run("failover, then failback", func(t *testing.T) {
		before := statusJSON(t)
		mustRun(t, 0, "failover", "--planned", "--yes")
		mid := statusJSON(t)
		if mid.Active != fakeDR || mid.Epoch <= before.Epoch {
			t.Fatalf("after failover: %s at epoch %d, want %s above epoch %d", mid.Active, mid.Epoch, fakeDR, before.Epoch)
		}
		f.mu.Lock()
		f.failbackRepl = nil
		f.mu.Unlock()
		mustRun(t, 0, "failback", "--yes")
		after := statusJSON(t)
		if after.Active != fakePrimary || after.Epoch <= mid.Epoch {
			t.Fatalf("after failback: %s at epoch %d, want %s above epoch %d", after.Active, after.Epoch, fakePrimary, mid.Epoch)
		}
		f.mu.Lock()
		repl := append([]bool(nil), f.failbackRepl...)
		f.mu.Unlock()
		if len(repl) != 2 || !repl[0] || repl[1] {
			t.Errorf("failback turned failback replication %v, want on then off", repl)
		}
		hist := mustRun(t, 0, "history").out
		if !strings.Contains(hist, "failover") || strings.Count(hist, "\n") < 3 {
			t.Errorf("history does not list the two runs from the journal:\n%s", hist)
		}
	})

	t.Run("validate", func(t *testing.T) {
		ctx := context.Background()
		if _, err := f.clients[fakePrimary].DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(f.names.Table()),
			Item: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: "only-in-primary"}}}); err != nil {
			t.Fatal(err)
		}
		r := mustRun(t, 1, "validate", "--settle", "0", "--no-objects")
		if !strings.Contains(r.out, "DIVERGENT") || !strings.Contains(r.out, "1 items missing in "+fakeDR) {
			t.Errorf("validate did not find the item missing in %s:\n%s", fakeDR, r.out)
		}
	})

	t.Run("check", func(t *testing.T) {
		r := runFake(t, f, dir, "check", "--json")
		var rep struct {
			Ready   bool `json:"ready"`
			Results []struct {
				Check, Status, Detail string
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
			t.Fatalf("check --json (exit %d): %v\n%s%s", r.code, err, r.out, r.err)
		}
		got := map[string]string{}
		for _, res := range rep.Results {
			got[res.Check] = res.Status + " " + res.Detail
		}
		// What only this target says: its three records, its detection
		// floor (4 s), and no drill kept in this test's reports folder.
		for check, want := range map[string]string{
			"control records": "PASS 3 records agree",
			"objectives":      "PASS detection floor 4s",
			"last drill":      "WARN no drill kept in " + filepath.Join(dir, "reports"),
		} {
			if !strings.HasPrefix(got[check], want) {
				t.Errorf("check's %q: %q, want %q…", check, got[check], want)
			}
		}
		if (r.code == 0) != rep.Ready {
			t.Errorf("check: exit %d with ready %v", r.code, rep.Ready)
		}
	})

	t.Run("backup", func(t *testing.T) {
		mustRun(t, 0, "backup", "create")
		var list []struct {
			Manifest struct {
				Table string `json:"table"`
			} `json:"manifest"`
		}
		out := mustRun(t, 0, "backup", "list", "--json").out
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Manifest.Table != f.names.Table() {
			t.Errorf("backup list after one create: %v, want one snapshot of %s:\n%s", err, f.names.Table(), out)
		}
	})

	t.Run("backup verify and prune", func(t *testing.T) {
		mustRun(t, 0, "backup", "create")
		if out := mustRun(t, 0, "backup", "verify").out; !strings.Contains(out, f.names.Table()) {
			t.Errorf("backup verify does not name the table it verified:\n%s", out)
		}
		mustRun(t, 2, "backup", "prune", "--keep", "1") // refused without --yes
		mustRun(t, 0, "backup", "prune", "--keep", "1", "--max-age", "0d", "--yes")
		var list []json.RawMessage
		if err := json.Unmarshal([]byte(mustRun(t, 0, "backup", "list", "--json").out), &list); err != nil || len(list) != 1 {
			t.Errorf("after prune --keep 1: %d snapshots (%v), want 1", len(list), err)
		}
	})

	t.Run("dashboard", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		done := make(chan int, 1)
		go func() {
			code, _ := runFakeTo(ctx, t, f, dir, pw, "dashboard", "--addr", "127.0.0.1:0", "--every", "100ms")
			pw.Close()
			done <- code
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		go io.Copy(io.Discard, pr)
		url := strings.Fields(strings.TrimPrefix(line, "dashboard: "))
		if err != nil || len(url) == 0 || !strings.HasPrefix(url[0], "http://127.0.0.1:") {
			t.Fatalf("dashboard said %q (%v), want its URL", line, err)
		}
		var snap struct {
			Status struct {
				Active string `json:"active_region"`
			} `json:"status"`
		}
		for deadline := time.Now().Add(10 * time.Second); snap.Status.Active == "" && time.Now().Before(deadline); {
			resp, err := http.Get(url[0] + "/api/snapshot")
			if err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&snap)
				resp.Body.Close()
			}
			if snap.Status.Active == "" {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if snap.Status.Active != fakePrimary {
			t.Errorf("the dashboard's snapshot shows %q active, want %s", snap.Status.Active, fakePrimary)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("dashboard exited %d when stopped", code)
		}
	})

	t.Run("protect scan", func(t *testing.T) {
		// The user's table, and pilotlight's own under the same prefix:
		// scan lists the first and never the second.
		ctx := context.Background()
		mine := "user" + f.names.App + "-carts"
		if _, err := f.clients[fakePrimary].DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(mine), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}}}); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		closed := f.closed
		f.mu.Unlock()
		r := runFake(t, f, dir, "protect", "scan", "--prefix", "user"+f.names.App, "--json")
		f.mu.Lock()
		if f.closed != closed+1 {
			t.Error("protect scan did not close its target")
		}
		f.mu.Unlock()
		if r.code == 2 || !strings.Contains(r.out, `"`+mine+`"`) {
			t.Errorf("protect scan (exit %d) does not list %s:\n%s%s", r.code, mine, r.out, r.err)
		}
		r = runFake(t, f, dir, "protect", "scan", "--prefix", f.names.App, "--json")
		if strings.Contains(r.out, `"`+f.names.Table()+`"`) {
			t.Errorf("protect scan lists pilotlight's own table %s:\n%s", f.names.Table(), r.out)
		}
	})

	t.Run("protect plan, apply, remove", func(t *testing.T) {
		planFile := filepath.Join(dir, "plan.json")
		mustRun(t, 0, "protect", "plan", "--prefix", "user"+f.names.App, "--app", "userapp", "--out", planFile)
		b, err := os.ReadFile(planFile)
		if err != nil {
			t.Fatal(err)
		}
		var plan struct {
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(b, &plan); err != nil || plan.Hash == "" {
			t.Fatalf("the plan file has no hash (%v):\n%s", err, b)
		}
		mustRun(t, 1, "protect", "apply", "--plan", planFile, "--approve", "0000000000000000")
		mustRun(t, 0, "protect", "apply", "--plan", planFile, "--approve", plan.Hash)
		mine := "user" + f.names.App + "-carts"
		if _, err := f.clients[fakeDR].DynamoDB.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(mine)}); err != nil {
			t.Errorf("after apply, %s has no replica in %s: %v", mine, fakeDR, err)
		}
		f.mu.Lock()
		adopted := fmt.Sprint(f.adopted)
		f.mu.Unlock()
		if !strings.Contains(adopted, mine) {
			t.Errorf("apply did not have %s replicated (adopted: %s)", mine, adopted)
		}
		mustRun(t, 0, "protect", "remove", "--plan", planFile, "--approve", plan.Hash)
		f.mu.Lock()
		left := len(f.adopted)
		f.mu.Unlock()
		if left != 0 {
			t.Errorf("after remove, the lab still replicates %d adopted resources", left)
		}
	})
}
