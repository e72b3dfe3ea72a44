package drill

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/pilotlight/pilotlight/internal/clock"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/workload"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target"
)

// Options configures a drill.
type Options struct {
	Scenario    report.Scenario
	Rate        int           // writes per second
	Concurrency int           // client workers
	Steady      time.Duration // workload before the fault
	After       time.Duration // workload in the DR region before healing
	Timeout     time.Duration // bound on each wait (failover, fence, routing)
	FaultFor    time.Duration // how long a chaos scenario keeps its fault (0: 30s)
	// MinAckRatio is the share of writes the primary must acknowledge while
	// only the DR region or the witness is cut (0: 0.95, the target).
	MinAckRatio float64
	// Objectives: a drill whose measured RTO (fault → first write
	// acknowledged in the DR region) or RPO (seconds of acknowledged writes
	// the DR region lacked at takeover) exceeds one fails. Zero: none.
	RTOObjective, RPOObjective time.Duration
	// LoadRate is the load scenario's write rate (0: LoadRate, 200/s).
	LoadRate int
	// App, when set, drills a protected application instead of the orders
	// service (scenario.AppScenarios only).
	App *App
}

// Env is what a drill drives: a target (the lab or AWS), and where its
// progress lines go.
type Env struct {
	Target   target.Target
	Progress io.Writer
}

// New connects a drill to its target and brings the target to its
// starting state (Drill.prepare). The caller runs a scenario on it, then
// Finish.
func New(ctx context.Context, env Env, opts Options) (*Drill, error) {
	t := env.Target
	fc, err := t.Controller(ctx)
	if err != nil {
		return nil, err
	}
	d := &Drill{Env: env, Options: opts, Target: t, Controller: fc, Clients: t.Clients(), Names: t.Names(), Primary: t.Primary(), DR: t.DR(),
		Report: &report.Report{Scenario: opts.Scenario, Target: string(t.Kind()), Primary: t.Primary(), DR: t.DR(), Started: time.Now().UTC()}}
	d.subject = orders{d}
	if opts.App != nil {
		if err := d.setupApp(ctx); err != nil {
			return nil, err
		}
	}
	if err := d.prepare(ctx); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return d, nil
}

// Hooks put something into the region-outage drill: AfterFailover
// runs once the DR region has taken over (the primary still cut), and
// BeforeFailback after the heal. Drill.FaultHook replaces the fault itself.
type Hooks struct {
	AfterFailover  func(ctx context.Context) error
	BeforeFailback func(ctx context.Context) error
	// Failback, when set, runs the failback in place of the planned run
	// (a scenario that interrupts it); it returns how it ended.
	Failback func(ctx context.Context) (failover.Result, error)
}

// Drill is one drill in progress: its target, its workload and what the
// report has so far. A scenario (package drill/scenario) reads and sets
// its exported fields between the steps it takes.
type Drill struct {
	Env        Env
	Options    Options
	Target     target.Target
	Controller *failover.Controller       // the target's, for the planned failback and checks
	Clients    map[string]*region.Clients // the target's, with SDK retries
	Names      region.Names
	Primary    string
	DR         string
	Report     *report.Report
	// Workload is the drill's clients, once StartWorkload ran; StartedAt
	// is when it started.
	Workload  *workload.Workload
	StartedAt time.Time
	// EpochBase is the primary's epoch when the drill began: a higher one
	// is a failover the drill caused.
	EpochBase int64
	// Extra are other clients: their writes are audited too.
	Extra []*workload.Workload
	// FaultHook, when set, injects the outage instead of a plain cut.
	FaultHook func(ctx context.Context) (string, error)
	// OnWorkloadStart, when set, runs as the workload starts.
	OnWorkloadStart func()
	// RTOBudget holds the measured RTO to the detection floor plus the
	// target's slack (a clean outage; a chaos scenario's RTO is its own).
	RTOBudget bool

	stopWL context.CancelFunc
	wlDone chan struct{}
	// subject is what the workload writes and the checks look up: the
	// orders (default) or a protected application's items (app).
	subject subject
	app     *workload.App
	route   router // the app's clients' view of the routing
}

// Say prints a progress line, stamped with the seconds since the drill
// began.
func (d *Drill) Say(format string, args ...any) {
	if d.Env.Progress != nil {
		fmt.Fprintf(d.Env.Progress, "%6.1fs  %s\n", time.Since(d.Report.Started).Seconds(), fmt.Sprintf(format, args...))
	}
}

// Fail records a failed check: the drill will not pass.
func (d *Drill) Fail(msg string) { d.Report.Failures = append(d.Report.Failures, msg) }

// Store is the control store of region r, through the controller.
func (d *Drill) Store(r string) *control.Store { return d.Controller.Stores()[r] }

// prepare brings the lab to its starting state: no faults, replication
// running, the primary active, routing to the primary.
func (d *Drill) prepare(ctx context.Context) error {
	if err := d.Target.Prepare(ctx); err != nil {
		return err
	}
	a, err := d.Store(d.DR).Active(ctx)
	if err != nil {
		return err
	}
	if a.Region != d.Primary {
		d.Say("the lab is failed over to %s (epoch %d): failing back first", a.Region, a.Epoch)
		if _, err := d.Failback(ctx, "drill preparation"); err != nil {
			return err
		}
	}
	if err := d.WaitRouting(ctx, d.Primary); err != nil {
		return err
	}
	a, err = d.Store(d.Primary).Active(ctx)
	if err != nil {
		return err
	}
	d.EpochBase = a.Epoch
	return nil
}

// Failback fails back to the primary, planned, with failback replication
// on for its duration; a run rolled back is tried once more, as an
// operator would.
func (d *Drill) Failback(ctx context.Context, reason string) (failover.Result, error) {
	if err := d.Target.FailbackReplication(ctx, true); err != nil {
		return failover.Result{}, err
	}
	defer d.Target.FailbackReplication(context.WithoutCancel(ctx), false)
	req := failover.Request{From: d.DR, To: d.Primary, Planned: true, Reason: reason}
	res, err := d.Controller.Run(ctx, req)
	if res.Outcome == failover.OutcomeRolledBack {
		// The DR region got its writes back; an operator tries again.
		d.Say("failback rolled back (%v); trying again", err)
		res, err = d.Controller.Run(ctx, req)
	}
	return res, err
}

// WaitRouting waits until the routing sends clients to want, settled.
func (d *Drill) WaitRouting(ctx context.Context, want string) error {
	return d.Poll(ctx, "routing to "+want, func() (bool, error) {
		r, settled := d.Target.Routed(ctx)
		return r == want && settled, nil
	})
}

// Poll checks cond every 50ms until it holds or the drill's timeout passes.
func (d *Drill) Poll(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(d.Options.Timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, d.Options.Timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartWorkload starts the drill's clients (Workload), and runs
// OnWorkloadStart.
func (d *Drill) StartWorkload() {
	d.Workload = &workload.Workload{Route: d.Target.URL, Rate: d.Options.Rate, Concurrency: d.Options.Concurrency, RegionURL: d.Target.RegionURL,
		RunID: "drill" + strconv.FormatInt(time.Now().UnixMilli(), 36), HTTP: d.Target.HTTP()}
	if d.app != nil {
		d.Workload.Do = d.app.Write
		d.followRouting()
	}
	wctx, cancel := context.WithCancel(context.Background())
	d.stopWL, d.wlDone = cancel, make(chan struct{})
	d.StartedAt = time.Now()
	go func() { defer close(d.wlDone); d.Workload.Run(wctx) }()
	if d.OnWorkloadStart != nil {
		d.OnWorkloadStart()
	}
}

// StopWorkload stops the clients and waits for them; idempotent.
func (d *Drill) StopWorkload() {
	if d.stopWL != nil {
		d.stopWL()
		<-d.wlDone
		d.stopWL = nil
	}
	d.stopRouting()
}

// outage is the region-outage drill: fault, detection, failover, RTO and
// RPO, heal, planned failback; the hooks let chaos scenarios add to it.
func (d *Drill) Outage(ctx context.Context, hooks Hooks) error {
	d.Say("steady state: %d writes/s, %d clients, for %s", d.Options.Rate, d.Options.Concurrency, d.Options.Steady)
	d.StartWorkload()
	defer d.StopWorkload()
	if err := clock.Sleep(ctx, d.Options.Steady); err != nil {
		return err
	}
	fo, err := d.failover(ctx)
	if err != nil {
		return err
	}
	if hooks.AfterFailover != nil {
		if err := hooks.AfterFailover(ctx); err != nil {
			return err
		}
	}
	if err := d.heal(ctx, fo); err != nil {
		return err
	}
	if hooks.BeforeFailback != nil {
		if err := hooks.BeforeFailback(ctx); err != nil {
			return err
		}
	}
	return d.plannedFailback(ctx, fo, hooks.Failback)
}

// failover injects the fault (the scenario's, when it has one) and
// measures what follows: the failover, RTO with its breakdown, RPO.
func (d *Drill) failover(ctx context.Context) (*report.FailoverReport, error) {
	fo := &report.FailoverReport{}
	d.Report.Failover = fo
	fo.FaultAt = time.Now().UTC()
	inject := func(ctx context.Context) (string, error) { return d.Target.Inject(ctx, d.Primary) }
	if d.FaultHook != nil {
		inject = d.FaultHook
	}
	how, err := inject(ctx)
	if err != nil {
		return nil, err
	}
	d.Say("FAULT: %s", how)

	var promoted record.Active
	err = d.Poll(ctx, "failover to "+d.DR, func() (bool, error) {
		v, err := d.Controller.View(ctx, d.Primary, d.DR)
		promoted = v.Active
		return err == nil && v.Active.Region == d.DR && v.Active.Hold == "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("failover did not happen: %w", err)
	}
	fo.Epoch = promoted.Epoch
	var first workload.Write
	if err := d.Poll(ctx, "first write acknowledged by "+d.DR, func() (bool, error) {
		w, ok := workload.FirstAck(d.Workload.Writes(), d.DR, fo.FaultAt)
		first = w
		return ok, nil
	}); err != nil {
		return nil, err
	}
	fo.FirstAckDR = first.Done.UTC()
	d.Say("RECOVERED: first write acknowledged by %s after %.2fs", d.DR, first.Done.Sub(fo.FaultAt).Seconds())
	journal, err := d.Store(d.DR).Run(ctx, fo.Epoch)
	if err != nil {
		return nil, err
	}
	fo.Journal = journal
	floor, why := d.Target.DetectionFloor(ctx)
	fo.Measure(floor, why)

	// RPO: writes the primary acknowledged that the DR region does not have
	// now that it has taken over.
	var primaryAcked []workload.Write
	for _, w := range d.Workload.Writes() {
		if w.Acked() && w.Region == d.Primary {
			primaryAcked = append(primaryAcked, w)
		}
	}
	missing, err := d.subject.missingItems(ctx, d.DR, ids(primaryAcked))
	if err != nil {
		return nil, err
	}
	d.Report.RPO = rpo(primaryAcked, missing)
	outage := d.Target.OutageProfile()
	d.Report.RPO.Note = outage.RPONote
	d.Say("RPO: %d acknowledged writes not in %s at takeover (%.3fs of writes)", d.Report.RPO.Missing, d.DR, d.Report.RPO.SpanSeconds)
	if outage.RTOSlack > 0 && d.RTOBudget {
		if budget := fo.DetectionFloor + outage.RTOSlack.Seconds(); fo.RTOSeconds > budget {
			d.Fail(fmt.Sprintf("RTO %.2fs is over the budget %.2fs (detection floor + %s)", fo.RTOSeconds, budget, outage.RTOSlack))
		}
	}
	if d.Report.Observed == "" {
		d.Report.Observed = fmt.Sprintf("failover to %s at epoch %d", d.DR, fo.Epoch)
	}
	return fo, nil
}

// heal waits the scenario's time in the DR region, heals the primary,
// turns failback replication on, and waits for the fence to land there.
func (d *Drill) heal(ctx context.Context, fo *report.FailoverReport) error {
	if err := clock.Sleep(ctx, d.Options.After); err != nil {
		return err
	}
	d.Report.HealedAt = time.Now().UTC()
	if err := d.Target.Heal(ctx, d.Primary); err != nil {
		return err
	}
	// The returning region catches up on what the DR region took meanwhile:
	// tables replicate both ways already; objects need the reverse rule.
	if err := d.Target.FailbackReplication(ctx, true); err != nil {
		return err
	}
	d.Say("HEAL: %s back on the network; DR → primary object replication on", d.Primary)
	if err := d.Poll(ctx, "fence to land in "+d.Primary, func() (bool, error) {
		a, err := d.Store(d.Primary).Active(ctx)
		return err == nil && a.Epoch >= fo.Epoch, nil
	}); err != nil {
		return err
	}
	fo.FenceLandedAt = time.Now().UTC()
	d.Say("fenced: %s holds epoch %d and refuses writes", d.Primary, fo.Epoch)
	return nil
}

// plannedFailback fails back (the scenario's way, when it has one) and
// measures it: writes lost at promotion, and how long writes were refused.
func (d *Drill) plannedFailback(ctx context.Context, fo *report.FailoverReport, fail func(context.Context) (failover.Result, error)) error {
	fb := &report.FailbackReport{StartedAt: time.Now().UTC()}
	d.Report.Failback = fb
	d.Say("FAILBACK: planned, %s → %s", d.DR, d.Primary)
	if fail == nil {
		fail = func(ctx context.Context) (failover.Result, error) { return d.Failback(ctx, "drill failback") }
	}
	res, err := fail(ctx)
	if err != nil {
		return fmt.Errorf("failback: %w", err)
	}
	fb.Epoch, fb.Journal = res.Epoch, res.Journal
	// Loss is counted at the promotion instant: every write the DR region
	// acknowledged must be in the primary now, not after things settle.
	var drAcked []workload.Write
	for _, w := range d.Workload.Writes() {
		if w.Acked() && w.Region == d.DR {
			drAcked = append(drAcked, w)
		}
	}
	mi, err := d.subject.missingItems(ctx, d.Primary, ids(drAcked))
	if err != nil {
		return err
	}
	ma, err := d.subject.missingObjects(ctx, d.Primary, ids(drAcked))
	if err != nil {
		return err
	}
	fb.Lost = len(mi) + len(ma)
	if fb.Lost > 0 {
		d.Breach(fmt.Sprintf("failback lost %d acknowledged writes at promotion (%d items, %d attachments missing in %s, e.g. %v)", fb.Lost, len(mi), len(ma), d.Primary, append(mi, ma...)[:min(5, fb.Lost)]))
	}

	if j, err := d.Store(d.DR).Run(ctx, fo.Epoch); err == nil {
		fo.Journal = j // with the phases journaled after the first write
	}
	var back workload.Write
	if err := d.Poll(ctx, "first write acknowledged by "+d.Primary+" after failback", func() (bool, error) {
		w, ok := workload.FirstAck(d.Workload.Writes(), d.Primary, fb.StartedAt)
		back = w
		return ok, nil
	}); err != nil {
		return err
	}
	fb.FirstAckPrimary = back.Done.UTC()
	// Writes were refused from the last one the DR region acknowledged
	// to the first the primary did (the run catches up first, while the DR
	// region still takes writes).
	lastDR := fb.StartedAt
	for _, w := range d.Workload.Writes() {
		if w.Acked() && w.Region == d.DR && w.Done.After(lastDR) && w.Done.Before(back.Done) {
			lastDR = w.Done
		}
	}
	fb.UnavailableSeconds = back.Done.Sub(lastDR).Seconds()
	d.Say("failed back: first write acknowledged by %s after %.2fs", d.Primary, fb.UnavailableSeconds)
	return clock.Sleep(ctx, time.Second)
}

func ids(ws []workload.Write) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

// Finish stops the workload, waits for replication to settle, and checks
// every acknowledged write in both regions.
func (d *Drill) Finish(ctx context.Context) {
	d.StopWorkload()
	rep := d.Report
	if d.Workload == nil {
		d.validate(ctx)
		rep.Finished = time.Now().UTC()
		rep.Pass = len(rep.Failures) == 0
		return
	}
	writes := d.Workload.Writes()
	for _, x := range d.Extra {
		writes = append(writes, x.Writes()...)
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].Sent.Before(writes[j].Sent) })
	var acked []workload.Write
	for _, w := range writes {
		if w.Acked() {
			acked = append(acked, w)
		}
	}
	rep.Writes = Summarize(writes, d.StartedAt)
	rep.FencedAcks, rep.FencedSamples = d.fencedAcks(ctx, acked)
	d.Say("checking %d acknowledged writes in both regions", len(acked))
	var in report.Integrity
	err := d.Poll(ctx, "every acknowledged write in both regions", func() (bool, error) {
		in = report.Integrity{}
		for _, r := range []string{d.Primary, d.DR} {
			m, err := d.subject.missingItems(ctx, r, ids(acked))
			if err != nil {
				return false, err
			}
			a, err := d.subject.missingObjects(ctx, r, ids(acked))
			if err != nil {
				return false, err
			}
			in.Add(r, d.Primary, m, a)
		}
		return in.Total() == 0, nil
	})
	rep.Integrity = in
	if err != nil {
		d.Breach(fmt.Sprintf("acknowledged writes missing after settling: %d items and %d attachments in %s, %d items and %d attachments in %s",
			len(in.ItemsMissingPrimary), len(in.AttachmentsMissingPrimary), d.Primary, len(in.ItemsMissingDR), len(in.AttachmentsMissingDR), d.DR))
	}
	if rep.FencedAcks > 0 {
		d.Breach(fmt.Sprintf("%d writes were acknowledged by a fenced region, e.g. %v", rep.FencedAcks, rep.FencedSamples))
	}
	d.invariants(ctx, writes)
	d.validate(ctx)
	d.objectives()
	rep.Events = d.Target.Events(ctx, rep.Started)
	// The lab enforces the templates' IAM: a refusal is a permission a
	// real deployment would lack.
	var denied []string
	for _, e := range rep.Events {
		if e.Kind == "access-denied" {
			denied = append(denied, e.Region+": "+e.Detail)
		}
	}
	if len(denied) > 0 {
		d.Fail(fmt.Sprintf("the templates' IAM refused %d requests during the drill (fix the role in cloudformation/), e.g. %s", len(denied), denied[0]))
	}
	rep.Finished = time.Now().UTC()
	rep.Pass = len(rep.Failures) == 0
}

// validate has the data validator compare the regions: after the drill they
// must hold the same data, not only the acknowledged writes.
func (d *Drill) validate(ctx context.Context) {
	run, differ := d.Target.Validate, "the regions differ after the drill"
	if a := d.Options.App; a != nil {
		// pilotlight's own table holds none of the application's writes.
		run, differ = d.appValidator(a.Table).Run, "table "+a.Table+" differs between the regions after the drill"
		d.Say("running the data validator on table %s", a.Table)
	} else {
		d.Say("running the data validator")
	}
	v, err := run(ctx)
	if err != nil {
		d.Fail(fmt.Sprintf("the data validator could not run: %v", err))
		return
	}
	d.Report.Validation = v
	if !v.Clean() {
		d.Breach(fmt.Sprintf("%s: %d items missing in %s, %d missing in %s, %d divergent (e.g. %v)", differ,
			v.MissingInDR.Count, d.DR, v.MissingInPrimary.Count, d.Primary, v.Divergent.Count,
			append(append(v.MissingInDR.Samples, v.MissingInPrimary.Samples...), v.Divergent.Samples...)))
	}
}

// fencedAcks counts acknowledged writes committed by a region after another
// region had been promoted at a higher epoch: split-brain writes. The orders
// service's transaction (and the guard package) makes them impossible; the
// drill proves it. An unguarded write (epoch 0: a routing-only
// application) is fenced when it was acknowledged by a region other than
// the one last promoted before it was sent.
func (d *Drill) fencedAcks(ctx context.Context, acked []workload.Write) (int, []string) {
	type promotion struct {
		at     time.Time
		region string
	}
	promoted := map[int64]promotion{}
	for _, r := range []string{d.Primary, d.DR} {
		a, err := d.Store(r).Active(ctx)
		if err != nil {
			continue
		}
		for e := d.EpochBase + 1; e <= a.Epoch; e++ {
			j, err := d.Store(r).Run(ctx, e)
			if err != nil {
				continue
			}
			for _, en := range j {
				if en.Phase == record.Promoted && en.To == r {
					promoted[e] = promotion{en.At, r}
				}
			}
		}
	}
	// owner is the region last promoted before t (the primary before any).
	owner := func(t time.Time) string {
		best, who := time.Time{}, d.Primary
		for _, p := range promoted {
			if !p.at.After(t) && p.at.After(best) {
				best, who = p.at, p.region
			}
		}
		return who
	}
	n := 0
	var samples []string
	for _, w := range acked {
		fenced := false
		if w.Epoch == 0 && d.app != nil {
			fenced = owner(w.CreatedAt) != w.Region
		} else if p, ok := promoted[w.Epoch+1]; ok && w.CreatedAt.After(p.at) {
			fenced = true
		}
		if fenced {
			n++
			if len(samples) < 5 {
				samples = append(samples, w.ID)
			}
		}
	}
	return n, samples
}
