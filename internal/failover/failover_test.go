package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
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
	return fixture{l: labtest.Lab(t), stores: labtest.Stores(t, labtest.Provision(t, "fo"), 1)}
}

const witness = "us-east-2"

// lease is short, so tests that wait for a grant to run out are quick.
var lease = control.LeaseConfig{Term: 600 * time.Millisecond, Epsilon: 50 * time.Millisecond, Delta: 150 * time.Millisecond}

// Function-field fakes for the parts no local server plays here.
type probeFunc func(ctx context.Context, region string) error

func (f probeFunc) Probe(ctx context.Context, r string) error { return f(ctx, r) }

type routingFunc func(ctx context.Context, region string) (bool, error)

func (f routingFunc) Healthy(ctx context.Context, r string) (bool, error) { return f(ctx, r) }

type notifyFunc func(ctx context.Context, e record.Entry) error

func (f notifyFunc) Notify(ctx context.Context, e record.Entry) error { return f(ctx, e) }

func healthy(context.Context, string) error { return nil }

func primaryDown(_ context.Context, r string) (bool, error) { return r != primary, nil }

func (f fixture) controller() *Controller {
	return New(Config{Stores: f.stores, Deployment: Deployment{Primary: primary, DR: dr, Witness: witness, Lease: lease}, Probe: probeFunc(healthy), Routing: routingFunc(primaryDown), FenceTimeout: 500 * time.Millisecond})
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
			c.Cfg().Routing = routingFunc(func(context.Context, string) (bool, error) { return true, nil })
		}, Request{From: primary, To: dr}, "second-opinion", OutcomeRefused},
		{"routing view down", func(c *Controller) {
			c.Cfg().Routing = routingFunc(func(context.Context, string) (bool, error) { return false, errors.New("no answer") })
		}, Request{From: primary, To: dr}, "second-opinion", OutcomeRefused},
		{"forced ignores routing", func(c *Controller) {
			c.Cfg().Routing = routingFunc(func(context.Context, string) (bool, error) { return true, nil })
		}, Request{From: primary, To: dr, Force: true}, "", OutcomeCompleted},
		{"DR unhealthy", func(c *Controller) {
			c.Cfg().Probe = probeFunc(func(_ context.Context, r string) error {
				if r == dr {
					return errors.New("dynamodb: connection reset")
				}
				return nil
			})
		}, Request{From: primary, To: dr}, "target-health", OutcomeRefused},
		{"dwell", func(c *Controller) { c.Cfg().MinDwell = time.Hour }, Request{From: primary, To: dr}, "dwell", OutcomeRefused},
		{"target already active", nil, Request{From: dr, To: primary}, "", OutcomeAlreadyActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.controller()
			if tt.mutate != nil {
				tt.mutate(c)
			}
			ctx := labtest.Context(t)
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
				if len(res.Journal) != len(record.Phases) {
					t.Errorf("journal has %d phases, want %d: %+v", len(res.Journal), len(record.Phases), res.Journal)
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
	ctx := labtest.Context(t)
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
	for _, crashAfter := range record.Phases[:len(record.Phases)-1] {
		t.Run("after-"+string(crashAfter), func(t *testing.T) {
			f := newFixture(t)
			c := f.controller()
			ctx, crash := context.WithCancel(context.Background())
			defer crash()
			c.Cfg().Notify = notifyFunc(func(_ context.Context, e record.Entry) error {
				if e.Phase == crashAfter {
					crash() // the process dies right after journaling this phase
				}
				return nil
			})
			if _, err := c.Run(ctx, Request{From: primary, To: dr}); err == nil {
				t.Fatal("the crashed run reported success")
			}
			before, err := f.stores[dr].Run(labtest.Context(t), 2)
			if err != nil {
				t.Fatal(err)
			}
			resumed := f.controller()
			res, err := resumed.Run(labtest.Context(t), Request{From: primary, To: dr})
			if err != nil || res.Outcome != OutcomeCompleted {
				t.Fatalf("resume: %v %+v", err, res)
			}
			a, _ := f.stores[dr].Active(labtest.Context(t))
			p, _ := f.stores[primary].Active(labtest.Context(t))
			if a.Region != dr || a.Epoch != 2 || p.Region != dr || p.Epoch != 2 {
				t.Fatalf("end state: DR %+v, primary %+v", a, p)
			}
			if len(res.Journal) != len(record.Phases) {
				t.Fatalf("journal: %+v", res.Journal)
			}
			for i, e := range before {
				if !res.Journal[i].At.Equal(e.At) {
					t.Errorf("phase %s re-stamped on resume: %s → %s", e.Phase, e.At, res.Journal[i].At)
				}
			}
			again, err := f.controller().Run(labtest.Context(t), Request{From: primary, To: dr})
			if err != nil || again.Outcome != OutcomeAlreadyActive {
				t.Errorf("third run: %v %+v, want already-active", err, again.Outcome)
			}
		})
	}
}

func TestFenceRetriedUntilItLands(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
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

type drainFunc func(ctx context.Context, from, to string, since time.Time) error

func (f drainFunc) Drain(ctx context.Context, from, to string, since time.Time) error {
	return f(ctx, from, to, since)
}

func TestPlannedFailback(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	if _, err := c.Run(ctx, Request{From: primary, To: dr}); err != nil {
		t.Fatal(err)
	}
	var order []string
	c.Cfg().Drain = drainFunc(func(ctx context.Context, from, to string, _ time.Time) error {
		// A catch-up while the source writes, then the drain proper: by
		// then writes must be stopped at the source.
		a, err := f.stores[from].Active(ctx)
		if err != nil {
			return err
		}
		if a.Region == from {
			order = append(order, "catch up "+from+"→"+to)
			return nil
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
	if strings.Join(order, ", ") != "catch up us-west-2→us-east-1, drain us-west-2→us-east-1" {
		t.Fatalf("drain calls: %v", order)
	}
	for _, r := range []string{primary, dr} {
		if a, _ := f.stores[r].Active(ctx); a.Region != primary || a.Epoch != 3 {
			t.Errorf("%s record after failback = %+v", r, a)
		}
	}
}

// readyFunc is a Drainer whose Ready check and Drain are given.
type readyDrainer struct {
	ready, drain func(ctx context.Context, from, to string) error
}

func (d readyDrainer) Ready(ctx context.Context, from, to string) error {
	return d.ready(ctx, from, to)
}
func (d readyDrainer) Drain(ctx context.Context, from, to string, _ time.Time) error {
	return d.drain(ctx, from, to)
}

// whenHeld is a drainer whose catch-up (before the handover) passes and
// whose drain (while the records are held) does held.
func whenHeld(c *Controller, held func(ctx context.Context) error) readyDrainer {
	return readyDrainer{ready: func(context.Context, string, string) error { return nil },
		drain: func(ctx context.Context, _, _ string) error {
			if v, _ := c.View(ctx, primary, dr); v.Active.Hold == "" {
				return nil
			}
			return held(ctx)
		}}
}

func failedOver(t *testing.T, f fixture, c *Controller) {
	t.Helper()
	if res, err := c.Run(labtest.Context(t), Request{From: primary, To: dr}); err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("failover: %v %+v", err, res)
	}
}

func view(t *testing.T, c *Controller) record.Active {
	t.Helper()
	v, err := c.View(labtest.Context(t), primary, dr)
	if err != nil {
		t.Fatal(err)
	}
	return v.Active
}

// A planned run whose drain fails gives the source its writes back: some
// region always accepts writes (issue: a failed drain left both refusing).
func TestPlannedRunThatCannotDrainUnfencesItsSource(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	failedOver(t, f, c)
	// The catch-up before the handover passes; the final drain fails.
	c.Cfg().Drain = whenHeld(c, func(context.Context) error { return errors.New("drain canary not in us-east-1 after 20s") })
	res, err := c.Run(ctx, Request{From: dr, To: primary, Planned: true, Reason: "failback"})
	if err == nil || res.Outcome != OutcomeRolledBack {
		t.Fatalf("failback with a failing drain: %v %+v, want rolled back", err, res)
	}
	a := view(t, c)
	if a.Region != dr || a.Hold != "" || a.Epoch != 4 {
		t.Fatalf("after the rollback the view is %+v; want %s active, unheld, at epoch 4", a, dr)
	}
	ws, err := f.stores[dr].WriteState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Writable(dr, time.Now(), lease); err != nil {
		t.Fatalf("the source was not given its writes back: %v", err)
	}
}

// Schedule: a failback's drain fails and is rolled back — the source gets
// its writes back at a new epoch — and a later failback succeeds. The
// later drain must prove every write of the source's tenure, those before
// the rollback too: the rolled-back epoch keeps the tenure's start. (With
// the new epoch's Since the drain skipped them: loss on failback.)
func TestRollbackKeepsTheSourcesTenure(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	failedOver(t, f, c)
	tenure := view(t, c).Since.Truncate(time.Millisecond)
	c.Cfg().Drain = whenHeld(c, func(context.Context) error { return errors.New("items not in us-east-1 after 20s") })
	if res, err := c.Run(ctx, Request{From: dr, To: primary, Planned: true}); err == nil || res.Outcome != OutcomeRolledBack {
		t.Fatalf("failback with a failing drain: %v %+v, want rolled back", err, res)
	}
	if a := view(t, c); a.Region != dr || !a.TenureStart().Equal(tenure) || !a.Since.After(tenure) {
		t.Fatalf("after the rollback: %+v, want %s at a new epoch with the tenure start %s", a, dr, tenure)
	}
	var got []time.Time
	c.Cfg().Drain = drainFunc(func(_ context.Context, _, _ string, since time.Time) error { got = append(got, since); return nil })
	if res, err := c.Run(ctx, Request{From: dr, To: primary, Planned: true}); err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("the second failback: %v %+v", err, res)
	}
	want := tenure.Add(-lease.Term - lease.Epsilon)
	if len(got) != 2 || !got[0].Equal(want) || !got[1].Equal(want) {
		t.Fatalf("the drains proved from %v, want the tenure less term and ε, %s, for the catch-up and the drain", got, want)
	}
}

func TestPlannedRunRefusedBeforeFencingWhenReplicationCannotDrain(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	failedOver(t, f, c)
	before := view(t, c)
	c.Cfg().Drain = readyDrainer{
		ready: func(context.Context, string, string) error { return errors.New("replication is paused") },
		drain: func(context.Context, string, string) error { t.Error("drain called"); return nil },
	}
	res, err := c.Run(ctx, Request{From: dr, To: primary, Planned: true})
	var ge *GuardError
	if !errors.As(err, &ge) || ge.Guard != "replication" || res.Outcome != OutcomeRefused {
		t.Fatalf("failback with replication paused: %v %+v", err, res)
	}
	if after := view(t, c); after != before {
		t.Fatalf("a refused failback moved the records: %+v → %+v", before, after)
	}
}

// A failback while the first fence is still pending: the target's own
// record is stale (it still names the target), but the majority does not.
func TestFailbackWithFencePendingIsNotAlreadyActive(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	if err := f.l.Cut(primary, region.DynamoDB); err != nil {
		t.Fatal(err)
	}
	failedOver(t, f, c)
	if err := f.l.Restore(primary); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.stores[primary].Active(ctx); a.Region != primary {
		t.Fatalf("this test needs the primary's own record unfenced, got %+v", a)
	}
	c.Cfg().Drain = readyDrainer{ready: func(context.Context, string, string) error { return nil }, drain: func(context.Context, string, string) error { return nil }}
	res, err := c.Run(ctx, Request{From: dr, To: primary, Planned: true})
	if err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("failback with the fence pending: %v %+v; want completed, not already-active", err, res)
	}
}

// A decision journaled long ago and never acted on is checked again.
func TestStaleDecisionIsCheckedAgain(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	old := time.Now().Add(-time.Hour)
	for _, p := range []record.Phase{record.Detected, record.Decided} {
		if _, err := f.stores[dr].Record(ctx, record.Entry{Epoch: 2, Phase: p, At: old, From: primary, To: dr}); err != nil {
			t.Fatal(err)
		}
	}
	c := f.controller()
	c.Cfg().Probe = probeFunc(func(_ context.Context, r string) error {
		if r == dr {
			return errors.New("s3: timeout")
		}
		return nil
	})
	res, err := c.Run(ctx, Request{From: primary, To: dr})
	var ge *GuardError
	if !errors.As(err, &ge) || ge.Guard != "target-health" {
		t.Fatalf("a stale decision skipped the guards: %v %+v", err, res)
	}
}

// The alarm invokes once per change of state; the tick re-evaluates while
// it stays in ALARM, so a refusal on a condition that later passes heals.
func TestTickRetriesARefusedFailoverWhileTheAlarmHolds(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	drHealthy := false
	c.Cfg().Probe = probeFunc(func(_ context.Context, r string) error {
		if r == dr && !drHealthy {
			return errors.New("s3: slow")
		}
		return nil
	})
	c.Cfg().AlarmState = func(context.Context) (string, error) { return "ALARM", nil }
	if _, err := c.Run(ctx, Request{From: primary, To: dr, Reason: "alarm"}); err == nil {
		t.Fatal("the first run should be refused: DR unhealthy")
	}
	tr, err := c.Tick(ctx, dr, primary)
	if err != nil || tr.Action != "re-evaluated" || tr.Result.Outcome != OutcomeRefused {
		t.Fatalf("tick while DR unhealthy: %v %+v", err, tr)
	}
	drHealthy = true
	tr, err = c.Tick(ctx, dr, primary)
	if err != nil || tr.Result == nil || tr.Result.Outcome != OutcomeCompleted {
		t.Fatalf("tick after DR healed: %v %+v", err, tr)
	}
	if a := view(t, c); a.Region != dr {
		t.Fatalf("view after the tick: %+v", a)
	}
	c.Cfg().AlarmState = func(context.Context) (string, error) { return "OK", nil }
	if tr, err := c.Tick(ctx, dr, primary); err != nil || tr.Action != "" {
		t.Fatalf("a quiet tick acted: %v %+v", err, tr)
	}
}

// abandonHandover starts a failback whose controller dies while draining
// (the drain after the handover never returns, and no rollback runs in it).
// abandonedFailback fails over, then abandons a failback after its
// handover (abandonHandover): it returns the source's tenure (the DR
// region's Since) and the held record.
func abandonedFailback(t *testing.T) (fixture, time.Time, record.Active) {
	t.Helper()
	f := newFixture(t)
	c := f.controller()
	failedOver(t, f, c)
	tenure := view(t, c).Since
	abandonHandover(t, f, c)
	return f, tenure, view(t, c)
}

func abandonHandover(t *testing.T, f fixture, c *Controller) {
	t.Helper()
	ctx := labtest.Context(t)
	// The catch-up before the handover passes; the drain after it (the
	// records held) never returns. (Counted, not read from the records: a
	// view read while the hold was still landing saw none.)
	drains := 0
	held, gone := make(chan struct{}), make(chan struct{})
	c.Cfg().Drain = readyDrainer{ready: func(context.Context, string, string) error { return nil },
		drain: func(ctx context.Context, _, _ string) error {
			if drains++; drains == 1 {
				return nil
			}
			close(held)
			<-gone
			return errors.New("the process died")
		}}
	ran := make(chan struct{})
	go func() { defer close(ran); _, _ = c.Run(ctx, Request{From: dr, To: primary, Planned: true}) }()
	t.Cleanup(func() { close(gone); <-ran })
	select {
	case <-held:
	case <-ran:
		t.Fatal("the planned run ended before its drain")
	}
	if a := view(t, c); a.Hold == "" || a.Region != primary {
		t.Fatalf("while draining: %+v, want the handover to %s held", a, primary)
	}
}

// Schedule: a failback is interrupted after its handover (the operator's
// process dies while draining). The tick resumes it — drains, releases,
// verifies — instead of holding every write for HoldMaxAge and then
// rolling it back. (Failed at aa72caa: the tick only waited.) The resumed
// drain proves the source's tenure — from the DR region's Since, less
// the term and ε a claimer's clock may be off — which the held records
// keep: the resuming process never saw the source's record.
func TestTickResumesAnInterruptedFailback(t *testing.T) {
	f, tenure, held := abandonedFailback(t)
	ctx := labtest.Context(t)
	if !held.FromSince.Equal(tenure.Truncate(time.Millisecond)) {
		t.Fatalf("held records keep the source's tenure %s, want %s", held.FromSince, tenure)
	}
	c2 := f.controller()
	c2.Cfg().ResumeAfter = time.Nanosecond
	drained := 0
	c2.Cfg().Drain = drainFunc(func(_ context.Context, _, _ string, since time.Time) error {
		drained++
		if want := tenure.Truncate(time.Millisecond).Add(-lease.Term - lease.Epsilon); !since.Equal(want) {
			t.Errorf("the resumed drain proves from %s, want the tenure less term and ε, %s", since, want)
		}
		return nil
	})
	tr, err := c2.Tick(ctx, dr, primary)
	if err != nil || tr.Action != "resumed" || tr.Result == nil || tr.Result.Outcome != OutcomeCompleted {
		t.Fatalf("tick: %v %+v", err, tr)
	}
	if drained == 0 {
		t.Fatal("the resumed failback released without draining")
	}
	if a := view(t, c2); a.Region != primary || a.Hold != "" || a.Epoch != held.Epoch {
		t.Fatalf("after the resume: %+v, want %s active, unheld, at the handover's epoch %d", a, primary, held.Epoch)
	}
	ws, err := f.stores[primary].WriteState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Writable(primary, time.Now(), lease); err != nil {
		t.Fatalf("the failback's target may not write: %v", err)
	}
}

// Schedule: a failback interrupted once a majority of records hold its
// handover, but before the source's own record took it, is rolled back
// at once: the source was never stopped (its own record is what fences
// it), so there is no handover to leave held for the tick. A schedule
// that means to interrupt a failback after its handover must wait for the
// source's own record, not for a majority: the drill's
// failback-interrupted waited for a majority, and under load (the
// source's write landing last) about one run in three rolled back.
func TestHandoverInterruptedBeforeTheSourceMovedIsRolledBack(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	failedOver(t, f, c)
	before := view(t, c)
	// The source's DynamoDB answers late (within a claim's half term):
	// its own record takes the handover last.
	if err := f.l.AddLatency(dr, region.DynamoDB, 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	cctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	go func() {
		for ctx.Err() == nil {
			p, perr := f.stores[primary].Active(ctx)
			w, werr := f.stores[witness].Active(ctx)
			if perr == nil && werr == nil && p.Region == primary && p.Hold != "" && w.Region == primary && w.Hold != "" {
				interrupt() // a majority holds the handover
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	res, err := c.Run(cctx, Request{From: dr, To: primary, Planned: true, Reason: "failback, interrupted"})
	if err == nil {
		t.Fatalf("the interrupted failback reported success: %+v", res)
	}
	if err := f.l.Restore(dr); err != nil {
		t.Fatal(err)
	}
	a := view(t, c)
	if a.Region != dr || a.Hold != "" || a.Epoch != before.Epoch+2 {
		t.Fatalf("after the interruption: %+v (%v), want %s given its writes back, unheld, at epoch %d (the handover's %d, plus one)", a, err, dr, before.Epoch+2, before.Epoch+1)
	}
}

// A handover the tick cannot resume (its controller has no drainer) is
// rolled back once held longer than HoldMaxAge: some region always writes.
func TestTickRollsBackAHandoverItCannotResume(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	failedOver(t, f, c)
	abandonHandover(t, f, c)
	c2 := f.controller()
	c2.Cfg().HoldMaxAge = time.Nanosecond
	tr, err := c2.Tick(ctx, dr, primary)
	if err != nil || tr.Action != "rolled-back" {
		t.Fatalf("tick: %v %+v", err, tr)
	}
	if a := view(t, c2); a.Region != dr || a.Hold != "" {
		t.Fatalf("after the rollback: %+v, want %s active and unheld", a, dr)
	}
}

// interruptedForcedRun forces a failover to the DR region and interrupts
// the run once its claim is held on the witness's record, as Ctrl-C during
// the forced wait does; it returns the held view.
func interruptedForcedRun(t *testing.T, f fixture) record.Active {
	t.Helper()
	ctx := labtest.Context(t)
	c := f.controller()
	q := c.Quorum(primary, dr, false)
	if _, err := q.Renew(ctx, primary); err != nil {
		t.Fatal(err)
	}
	cctx, interrupt := context.WithCancel(ctx)
	c.Cfg().Notify = notifyFunc(func(_ context.Context, e record.Entry) error {
		if e.Phase == record.Decided {
			// The claim goes out next; interrupt the run once it landed.
			go func() {
				for {
					if a, err := f.stores[witness].Active(ctx); err == nil && a.Hold != "" {
						interrupt()
						return
					}
					select {
					case <-ctx.Done():
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()
		}
		return nil
	})
	if _, err := c.Run(cctx, Request{From: primary, To: dr, Force: true, Reason: "operator"}); err == nil {
		t.Fatal("the interrupted forced run reported success")
	}
	held := view(t, c)
	if held.Region != dr || held.Kind() != record.HoldForced {
		t.Fatalf("after the interruption: %+v, want %s held by a forced claim", held, dr)
	}
	return held
}

// tickUntilResumed runs c's tick until it resumes the held epoch, which
// must complete, and never rolls it back.
func tickUntilResumed(ctx context.Context, t *testing.T, c *Controller) {
	t.Helper()
	for {
		tr, err := c.Tick(ctx, dr, primary)
		if err != nil {
			t.Fatalf("tick: %v %+v", err, tr)
		}
		if tr.Action == "rolled-back" {
			t.Fatalf("the tick rolled a forced failover back onto %s: %+v", primary, tr)
		}
		if tr.Action == "resumed" {
			if tr.Result == nil || tr.Result.Outcome != OutcomeCompleted {
				t.Fatalf("resumed: %+v", tr.Result)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the tick never resumed the forced failover")
		case <-time.After(50 * time.Millisecond): // the schedule's next tick
		}
	}
}

// Schedule: a forced failover is interrupted while it waits out the old
// lease. The tick resumes it once the hold's end has passed, and never
// rolls it back onto the region it was forced away from (fenced, or
// down). (Failed at aa72caa: the tick rolled it back to the primary.)
func TestTickResumesAnInterruptedForcedFailover(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	held := interruptedForcedRun(t, f)
	c2 := f.controller()
	c2.Cfg().HoldMaxAge = time.Nanosecond
	tickUntilResumed(ctx, t, c2)
	if time.Now().Before(held.HoldUntil) {
		t.Fatalf("resumed at %s, before the hold's end %s", time.Now().Format(time.RFC3339Nano), held.HoldUntil.Format(time.RFC3339Nano))
	}
	if a := view(t, c2); a.Region != dr || a.Hold != "" || a.Epoch != held.Epoch {
		t.Fatalf("after the resume: %+v, want %s active at epoch %d", a, dr, held.Epoch)
	}
}

// With the old holder's lease still valid a claim cannot win: the witness
// refuses. Without it (a forced run) the new holder waits the lease out.
func TestClaimRefusedWhileThePrimaryHoldsItsLease(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	q := &control.Quorum{Stores: []*control.Store{f.stores[primary], f.stores[dr], f.stores[witness]}, Witness: witness, Lease: control.LeaseConfig{Term: 30 * time.Second, Epsilon: lease.Epsilon, Delta: lease.Delta}}
	if _, err := q.Renew(ctx, primary); err != nil {
		t.Fatal(err)
	}
	c := f.controller()
	c.Cfg().ClaimWait = 200 * time.Millisecond
	res, err := c.Run(ctx, Request{From: primary, To: dr})
	var ge *GuardError
	if !errors.As(err, &ge) || ge.Guard != "majority" || res.Outcome != OutcomeRefused {
		t.Fatalf("claim against a valid lease: %v %+v", err, res)
	}
	if a := view(t, c); a.Region != primary || a.Epoch != 1 {
		t.Fatalf("a refused claim moved the view: %+v", a)
	}
}

// An alarm that fires while a planned handover drains must not undo it:
// the held records grant nothing, so a claim would win them.
func TestUnplannedRunRefusedDuringAHandover(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	c := f.controller()
	failedOver(t, f, c)
	alarm := f.controller()
	c.Cfg().Drain = whenHeld(c, func(ctx context.Context) error {
		res, err := alarm.Run(ctx, Request{From: primary, To: dr, Reason: "alarm during the drain"})
		var ge *GuardError
		if !errors.As(err, &ge) || ge.Guard != "handover" {
			t.Errorf("an unplanned run during a handover: %v %+v", err, res)
		}
		return nil
	})
	res, err := c.Run(ctx, Request{From: dr, To: primary, Planned: true})
	if err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("the handover: %v %+v", err, res)
	}
}

// The target's health is checked at the claim, not before the waits that
// precede it: a run that started while the DR region was healthy must not
// claim after the DR region turned unhealthy during the wait for the
// routing layer's agreement, or during the wait for the old grant to run
// out (a refused-then-healed failure under the race detector: the probe
// came first, the agreement wait next).
func TestTargetHealthCheckedAtTheClaim(t *testing.T) {
	for _, during := range []string{"agreement wait", "grant wait"} {
		t.Run(during, func(t *testing.T) {
			f := newFixture(t)
			ctx := labtest.Context(t)
			c := f.controller()
			var mu sync.Mutex
			sick, probes := false, 0
			c.Cfg().Probe = probeFunc(func(_ context.Context, r string) error {
				mu.Lock()
				defer mu.Unlock()
				if r == dr {
					probes++
					if sick {
						return errors.New("s3: answers 3s late")
					}
				}
				return nil
			})
			turnSick := func() { mu.Lock(); sick = true; mu.Unlock() }
			switch during {
			case "agreement wait":
				calls := 0
				c.Cfg().Routing = routingFunc(func(ctx context.Context, r string) (bool, error) {
					calls++
					if calls == 1 {
						turnSick()
						return true, nil // not yet agreed: the run waits
					}
					return primaryDown(ctx, r)
				})
			case "grant wait":
				q := &control.Quorum{Stores: []*control.Store{f.stores[primary], f.stores[dr], f.stores[witness]}, Witness: witness, Lease: lease}
				if _, err := q.Renew(ctx, primary); err != nil {
					t.Fatal(err)
				}
				c.Cfg().ClaimWait = 10 * lease.Term
				// Healthy at the guards' probe, sick from the next one on:
				// the first claim is refused (the primary's grant runs), so
				// only a probe in the claim's retry loop sees it.
				c.Cfg().Probe = probeFunc(func(_ context.Context, r string) error {
					mu.Lock()
					defer mu.Unlock()
					if r == dr {
						probes++
						if probes > 1 {
							return errors.New("s3: answers 3s late")
						}
					}
					return nil
				})
			}
			res, err := c.Run(ctx, Request{From: primary, To: dr})
			var ge *GuardError
			if !errors.As(err, &ge) || ge.Guard != "target-health" || res.Outcome != OutcomeRefused {
				t.Fatalf("DR turned unhealthy during the %s: %v %+v (DR probed %d times)", during, err, res, probes)
			}
			if a := view(t, c); a.Region != primary || a.Epoch != 1 {
				t.Fatalf("the run claimed for an unhealthy target: %+v", a)
			}
		})
	}
}

// A resumed forced failover whose decision was forgotten (a resume refused
// while a late record write was still landing forgets Detected and
// Decided, like any refused run) is still a resume: the claim holds a
// majority. Before, the next run asked the guards again and the hold guard
// refused the run's own held epoch on every tick: the writes stayed held
// for good (fresh-clone CI, forced-interrupted: "not within 1m0s").
func TestResumeOfAHeldEpochWithAForgottenDecision(t *testing.T) {
	f := newFixture(t)
	ctx := labtest.Context(t)
	held := interruptedForcedRun(t, f)
	for _, p := range []record.Phase{record.Decided, record.Detected} {
		if err := f.stores[dr].Forget(ctx, held.Epoch, p); err != nil {
			t.Fatal(err)
		}
	}
	c2 := f.controller()
	tickUntilResumed(ctx, t, c2)
	if a := view(t, c2); a.Region != dr || a.Hold != "" || a.Epoch != held.Epoch {
		t.Fatalf("after the resume: %+v, want %s active at epoch %d", a, dr, held.Epoch)
	}
}

// Schedule: a failback's handover landed, but its controller died before
// journaling Fenced (the write of the records returned; the journal's did
// not). The resumed run hands over again and drains — and every proof it
// asks for, the catch-up's and the drain's, starts at the source's tenure
// (the held records' FromSince), not at the hold's own start: a stateful
// drainer reads on from its catch-up, so a catch-up started later would
// leave the start of the source's tenure unproved. The records it
// re-claims keep the source's tenure too.
func TestResumedHandoverProvesTheSourcesWholeTenure(t *testing.T) {
	f, tenure, held := abandonedFailback(t)
	ctx := labtest.Context(t)
	for _, s := range f.stores {
		if err := s.Forget(ctx, held.Epoch, record.Fenced); err != nil {
			t.Fatal(err)
		}
	}
	c2 := f.controller()
	want := tenure.Truncate(time.Millisecond).Add(-lease.Term - lease.Epsilon)
	var proofs []time.Time
	c2.Cfg().Drain = drainFunc(func(_ context.Context, _, _ string, since time.Time) error {
		proofs = append(proofs, since)
		if a, err := f.stores[primary].Active(ctx); err == nil && a.Epoch == held.Epoch && !a.FromSince.Equal(held.FromSince) {
			t.Errorf("the re-claimed source record keeps FromSince %s, want the source's tenure %s", a.FromSince, held.FromSince)
		}
		return nil
	})
	res, err := c2.Run(ctx, Request{From: dr, To: primary, Planned: true, Reason: "failback, resumed"})
	if err != nil || res.Outcome != OutcomeCompleted {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if len(proofs) < 2 {
		t.Fatalf("the resumed run asked for %d proofs, want a catch-up and a drain", len(proofs))
	}
	for i, since := range proofs {
		if !since.Equal(want) {
			t.Errorf("proof %d of the resumed run starts at %s, want the source's tenure less term and ε, %s", i, since, want)
		}
	}
}
