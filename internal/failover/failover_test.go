package failover_test

import (
	"context"
	"errors"
	"fmt"
	. "github.com/pilotlight/pilotlight/internal/failover"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/region"
)

func TestMain(m *testing.M) { labtest.Main(m) }

const (
	primary = "us-east-1"
	dr      = "us-west-2"
)

// fixture gives a test control tables of its own in both lab regions.
type fixture struct {
	l      *lab.Lab
	stores map[string]*control.Store
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	names := labtest.Provision(t, "fo")
	p, dr := labtest.Clients(t, 1)
	w := labtest.Witness(t, 1)
	return fixture{l: labtest.Lab(t), stores: map[string]*control.Store{p.Name: control.New(p, names), dr.Name: control.New(dr, names), w.Name: control.New(w, names)}}
}

const witness = "us-east-2"

// lease is short, so tests that wait for a grant to run out are quick.
var lease = control.LeaseConfig{Term: 600 * time.Millisecond, Epsilon: 50 * time.Millisecond, Delta: 150 * time.Millisecond}

// Function-field fakes for the parts no local server plays here.
type probeFunc func(ctx context.Context, region string) error

func (f probeFunc) Probe(ctx context.Context, r string) error { return f(ctx, r) }

type routingFunc func(ctx context.Context, region string) (bool, error)

func (f routingFunc) Healthy(ctx context.Context, r string) (bool, error) { return f(ctx, r) }

type notifyFunc func(ctx context.Context, e control.Entry) error

func (f notifyFunc) Notify(ctx context.Context, e control.Entry) error { return f(ctx, e) }

func healthy(context.Context, string) error { return nil }

func primaryDown(_ context.Context, r string) (bool, error) { return r != primary, nil }

func (f fixture) controller() *Controller {
	return &Controller{Stores: f.stores, Witness: witness, Lease: lease, Probe: probeFunc(healthy), Routing: routingFunc(primaryDown), FenceTimeout: 500 * time.Millisecond}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGuards(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Controller)
		req     Request
		guard   string
		outcome Outcome
	}{
		{"completes", nil, Request{From: primary, To: dr}, "", OutcomeCompleted},
		{"routing sees primary healthy", func(c *Controller) {
			c.Routing = routingFunc(func(context.Context, string) (bool, error) { return true, nil })
		}, Request{From: primary, To: dr}, "second-opinion", OutcomeRefused},
		{"routing view down", func(c *Controller) {
			c.Routing = routingFunc(func(context.Context, string) (bool, error) { return false, errors.New("no answer") })
		}, Request{From: primary, To: dr}, "second-opinion", OutcomeRefused},
		{"forced ignores routing", func(c *Controller) {
			c.Routing = routingFunc(func(context.Context, string) (bool, error) { return true, nil })
		}, Request{From: primary, To: dr, Force: true}, "", OutcomeCompleted},
		{"DR unhealthy", func(c *Controller) {
			c.Probe = probeFunc(func(_ context.Context, r string) error {
				if r == dr {
					return errors.New("dynamodb: connection reset")
				}
				return nil
			})
		}, Request{From: primary, To: dr}, "target-health", OutcomeRefused},
		{"dwell", func(c *Controller) { c.MinDwell = time.Hour }, Request{From: primary, To: dr}, "dwell", OutcomeRefused},
		{"target already active", nil, Request{From: dr, To: primary}, "", OutcomeAlreadyActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.controller()
			if tt.mutate != nil {
				tt.mutate(c)
			}
			ctx := ctxT(t)
			res, err := c.Run(ctx, tt.req)
			if res.Outcome != tt.outcome {
				t.Fatalf("outcome %s (%v), want %s", res.Outcome, err, tt.outcome)
			}
			var ge *GuardError
			if tt.guard != "" && (!errors.As(err, &ge) || ge.Guard != tt.guard) {
				t.Fatalf("err = %v, want guard %s", err, tt.guard)
			}
			a, err2 := f.stores[dr].Active(ctx)
			if err2 != nil {
				t.Fatal(err2)
			}
			if tt.outcome == OutcomeCompleted {
				if a.Region != dr || a.Epoch != 2 || !res.Fenced || !res.Promote {
					t.Errorf("after failover DR record = %+v, result %+v", a, res)
				}
				if p, _ := f.stores[primary].Active(ctx); p.Region != dr || p.Epoch != 2 {
					t.Errorf("primary not fenced: %+v", p)
				}
				if len(res.Journal) != len(control.Phases) {
					t.Errorf("journal has %d phases, want %d: %+v", len(res.Journal), len(control.Phases), res.Journal)
				}
			} else if a.Region != primary || a.Epoch != 1 {
				t.Errorf("refused failover changed the DR record: %+v", a)
			}
			if tt.outcome == OutcomeRefused {
				// A refused run leaves no journal behind: the next alarm
				// starts afresh and its detection time is its own.
				if j, err := f.stores[dr].Run(ctx, 2); err != nil || len(j) != 0 {
					t.Errorf("refused run left a journal: %+v %v", j, err)
				}
			}
		})
	}
}

func TestRacingControllersPromoteOnce(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	const n = 4
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = f.controller().Run(ctx, Request{From: primary, To: dr, Reason: fmt.Sprintf("controller %d", i)})
		}()
	}
	close(start)
	wg.Wait()
	// Claims for the same region at the same epoch are one claim (they are
	// idempotent): every controller ends at epoch 2, none at 3.
	for i, r := range results {
		if errs[i] != nil {
			t.Errorf("controller %d: %v", i, errs[i])
		}
		if r.Epoch != 2 {
			t.Errorf("controller %d ended at epoch %d, want 2", i, r.Epoch)
		}
	}
	a, _ := f.stores[dr].Active(ctx)
	if a.Region != dr || a.Epoch != 2 {
		t.Fatalf("DR record = %+v, want us-west-2 at epoch 2 (one epoch step, not %d)", a, a.Epoch-1)
	}
}

func TestCrashAfterEachPhaseResumes(t *testing.T) {
	for _, crashAfter := range control.Phases[:len(control.Phases)-1] {
		t.Run("after-"+string(crashAfter), func(t *testing.T) {
			f := newFixture(t)
			c := f.controller()
			ctx, crash := context.WithCancel(context.Background())
			defer crash()
			c.Notify = notifyFunc(func(_ context.Context, e control.Entry) error {
				if e.Phase == crashAfter {
					crash() // the process dies right after journaling this phase
				}
				return nil
			})
			if _, err := c.Run(ctx, Request{From: primary, To: dr}); err == nil {
				t.Fatal("the crashed run reported success")
			}
			before, err := f.stores[dr].Run(ctxT(t), 2)
			if err != nil {
				t.Fatal(err)
			}
			resumed := f.controller()
			res, err := resumed.Run(ctxT(t), Request{From: primary, To: dr})
			if err != nil || res.Outcome != OutcomeCompleted {
				t.Fatalf("resume: %v %+v", err, res)
			}
			a, _ := f.stores[dr].Active(ctxT(t))
			p, _ := f.stores[primary].Active(ctxT(t))
			if a.Region != dr || a.Epoch != 2 || p.Region != dr || p.Epoch != 2 {
				t.Fatalf("end state: DR %+v, primary %+v", a, p)
			}
			if len(res.Journal) != len(control.Phases) {
				t.Fatalf("journal: %+v", res.Journal)
			}
			for i, e := range before {
				if !res.Journal[i].At.Equal(e.At) {
					t.Errorf("phase %s re-stamped on resume: %s → %s", e.Phase, e.At, res.Journal[i].At)
				}
			}
			again, err := f.controller().Run(ctxT(t), Request{From: primary, To: dr})
			if err != nil || again.Outcome != OutcomeAlreadyActive {
				t.Errorf("third run: %v %+v, want already-active", err, again.Outcome)
			}
		})
	}
}

func TestFenceRetriedUntilItLands(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	c := f.controller()
	if err := f.l.Cut(primary, region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(ctx, Request{From: primary, To: dr, Reason: "primary cut"})
	if err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("failover with the primary cut: %v %+v", err, res)
	}
	if res.Fenced {
		t.Fatal("fence reported as landed while the primary was cut")
	}
	if landed, err := c.Reconcile(ctx, dr); landed || err != nil {
		t.Fatalf("reconcile while still cut: landed=%v err=%v", landed, err)
	}
	if err := f.l.Restore(primary); err != nil {
		t.Fatal(err)
	}
	landed, err := c.Reconcile(ctx, dr)
	if err != nil || !landed {
		t.Fatalf("reconcile after restore: landed=%v err=%v", landed, err)
	}
	p, _ := f.stores[primary].Active(ctx)
	if p.Region != dr || p.Epoch != 2 {
		t.Fatalf("primary record after reconcile = %+v", p)
	}
	if landed, _ := c.Reconcile(ctx, dr); landed {
		t.Error("second reconcile fenced again")
	}
}

type drainFunc func(ctx context.Context, from, to string) error

func (f drainFunc) Drain(ctx context.Context, from, to string) error { return f(ctx, from, to) }

func TestPlannedFailback(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	c := f.controller()
	if _, err := c.Run(ctx, Request{From: primary, To: dr}); err != nil {
		t.Fatal(err)
	}
	var order []string
	c.Drain = drainFunc(func(ctx context.Context, from, to string) error {
		// Writes must already be stopped at the source when draining starts.
		a, err := f.stores[from].Active(ctx)
		if err != nil || a.Region == from {
			return fmt.Errorf("drain began while %s still accepts writes: %+v %v", from, a, err)
		}
		order = append(order, "drain "+from+"→"+to)
		return nil
	})
	plan, err := c.Run(ctx, Request{From: dr, To: primary, Planned: true, DryRun: true})
	if err != nil || plan.Outcome != OutcomePlan || !strings.Contains(strings.Join(plan.Plan, "\n"), "wait until replication us-west-2 → us-east-1 has drained") {
		t.Fatalf("dry run: %v %+v", err, plan)
	}
	if a, _ := f.stores[primary].Active(ctx); a.Epoch != 2 {
		t.Fatalf("dry run changed state: %+v", a)
	}
	res, err := c.Run(ctx, Request{From: dr, To: primary, Planned: true, Reason: "failback"})
	if err != nil || res.Outcome != OutcomeCompleted || res.Epoch != 3 {
		t.Fatalf("failback: %v %+v", err, res)
	}
	if len(order) != 1 {
		t.Fatalf("drain calls: %v", order)
	}
	for _, r := range []string{primary, dr} {
		if a, _ := f.stores[r].Active(ctx); a.Region != primary || a.Epoch != 3 {
			t.Errorf("%s record after failback = %+v", r, a)
		}
	}
}
