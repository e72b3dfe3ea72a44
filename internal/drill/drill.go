package drill

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
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

const (
	// RegionOutage cuts the primary region off entirely, lets detection and
	// failover happen on their own, heals it, and fails back (planned).
	RegionOutage report.Scenario = "region-outage"
	// NoFault runs the workload with no fault: no failover may happen and
	// every write must replicate.
	NoFault report.Scenario = "no-fault"
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
	// service (AppScenarios only).
	App *App
}

// Env is what a drill drives: a target (the lab or AWS), and where its
// progress lines go.
type Env struct {
	Target   target.Target
	Progress io.Writer
}

// ErrUnknownScenario is a scenario that is not one of Scenarios.
var ErrUnknownScenario = errors.New("unknown scenario")

// Check says what is wrong with the options, naming the fix: an unknown
// scenario, a rate or a client count out of range.
func (o Options) Check() error {
	if _, ok := Expectations[o.Scenario]; !ok {
		return fmt.Errorf("%w %q: use one of %v", ErrUnknownScenario, o.Scenario, Scenarios)
	}
	if o.Rate < 1 || o.Rate > 2000 || o.Concurrency < 1 || o.Concurrency > 256 {
		return errors.New("--rate must be 1-2000 and --concurrency 1-256")
	}
	if o.App != nil {
		if !slices.Contains(AppScenarios, o.Scenario) {
			return fmt.Errorf("scenario %s drives pilotlight's orders service; on a protected application run one of %v", o.Scenario, AppScenarios)
		}
		if o.App.Table == "" {
			return fmt.Errorf("application %s: no table to write to", o.App.Name)
		}
	}
	return nil
}

// Run runs a drill and returns its report. The error is for drills that
// could not run; a drill that ran and failed its checks returns a report
// with Pass false.
func Run(ctx context.Context, env Env, opts Options) (*report.Report, error) {
	t := env.Target
	if err := opts.Check(); err != nil {
		return nil, err
	}
	if opts.Scenario == Load {
		opts.Rate = max(opts.Rate, cmp.Or(opts.LoadRate, LoadRate))
		opts.Concurrency = max(opts.Concurrency, opts.Rate/6)
	}
	fc, err := t.Controller(ctx)
	if err != nil {
		return nil, err
	}
	d := &run{env: env, opts: opts, t: t, fc: fc, clients: t.Clients(), names: t.Names(), primary: t.Primary(), dr: t.DR(),
		rep: &report.Report{Scenario: opts.Scenario, Expected: Expectations[opts.Scenario], Target: string(t.Kind()), Primary: t.Primary(), DR: t.DR(), Started: time.Now().UTC()}}
	d.subject = orders{d}
	if opts.App != nil {
		if err := d.setupApp(ctx); err != nil {
			return nil, err
		}
	}
	if err := d.prepare(ctx); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	sc, _ := lookup(opts.Scenario) // Check found it
	err = sc.run(d, ctx)
	if err != nil {
		d.fail(err.Error())
		// A drill that stopped early must not leave the target broken.
		if rerr := t.Heal(context.WithoutCancel(ctx), ""); rerr != nil {
			d.fail("restore faults: " + rerr.Error())
		}
	}
	d.finish(ctx)
	return d.rep, nil
}

type run struct {
	env              Env
	opts             Options
	t                target.Target
	fc               *failover.Controller       // the target's, for the planned failback and checks
	clients          map[string]*region.Clients // the target's, with SDK retries
	names            region.Names
	primary, dr      string
	rep              *report.Report
	wl               *workload.Workload
	stopWL           context.CancelFunc
	wlDone           chan struct{}
	startedAt        time.Time
	primaryEpochBase int64
	extra            []*workload.Workload // other clients (their writes are audited too)
	// faultHook, when set, injects the outage instead of a plain cut.
	faultHook func(ctx context.Context) (string, error)
	// onWorkloadStart, when set, runs as the workload starts.
	onWorkloadStart func()
	// subject is what the workload writes and the checks look up: the
	// orders (default) or a protected application's items (app).
	subject subject
	app     *workload.App
	route   router // the app's clients' view of the routing
}

func (d *run) say(format string, args ...any) {
	if d.env.Progress != nil {
		fmt.Fprintf(d.env.Progress, "%6.1fs  %s\n", time.Since(d.rep.Started).Seconds(), fmt.Sprintf(format, args...))
	}
}

func (d *run) fail(msg string) { d.rep.Failures = append(d.rep.Failures, msg) }

func (d *run) store(r string) *control.Store { return d.fc.Stores()[r] }

// prepare brings the lab to its starting state: no faults, replication
// running, the primary active, routing to the primary.
func (d *run) prepare(ctx context.Context) error {
	if err := d.t.Prepare(ctx); err != nil {
		return err
	}
	a, err := d.store(d.dr).Active(ctx)
	if err != nil {
		return err
	}
	if a.Region != d.primary {
		d.say("the lab is failed over to %s (epoch %d): failing back first", a.Region, a.Epoch)
		if _, err := d.failback(ctx, "drill preparation"); err != nil {
			return err
		}
	}
	if err := d.waitRouting(ctx, d.primary); err != nil {
		return err
	}
	a, err = d.store(d.primary).Active(ctx)
	if err != nil {
		return err
	}
	d.primaryEpochBase = a.Epoch
	return nil
}

func (d *run) failback(ctx context.Context, reason string) (failover.Result, error) {
	if err := d.t.FailbackReplication(ctx, true); err != nil {
		return failover.Result{}, err
	}
	defer d.t.FailbackReplication(context.WithoutCancel(ctx), false)
	req := failover.Request{From: d.dr, To: d.primary, Planned: true, Reason: reason}
	res, err := d.fc.Run(ctx, req)
	if res.Outcome == failover.OutcomeRolledBack {
		// The DR region got its writes back; an operator tries again.
		d.say("failback rolled back (%v); trying again", err)
		res, err = d.fc.Run(ctx, req)
	}
	return res, err
}

func (d *run) waitRouting(ctx context.Context, want string) error {
	return d.poll(ctx, "routing to "+want, func() (bool, error) {
		r, settled := d.t.Routed(ctx)
		return r == want && settled, nil
	})
}

// poll checks cond every 50ms until it holds or the drill's timeout passes.
func (d *run) poll(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(d.opts.Timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, d.opts.Timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (d *run) startWorkload() {
	d.wl = &workload.Workload{Route: d.t.URL, Rate: d.opts.Rate, Concurrency: d.opts.Concurrency, RegionURL: d.t.RegionURL,
		RunID: "drill" + strconv.FormatInt(time.Now().UnixMilli(), 36), HTTP: d.t.HTTP()}
	if d.app != nil {
		d.wl.Do = d.app.Write
		d.followRouting()
	}
	wctx, cancel := context.WithCancel(context.Background())
	d.stopWL, d.wlDone = cancel, make(chan struct{})
	d.startedAt = time.Now()
	go func() { defer close(d.wlDone); d.wl.Run(wctx) }()
	if d.onWorkloadStart != nil {
		d.onWorkloadStart()
	}
}

func (d *run) stopWorkload() {
	if d.stopWL != nil {
		d.stopWL()
		<-d.wlDone
		d.stopWL = nil
	}
	d.stopRouting()
}

func (d *run) noFault(ctx context.Context) error {
	d.say("workload: %d writes/s, %d clients, %s, no fault", d.opts.Rate, d.opts.Concurrency, d.opts.Steady+d.opts.After)
	d.startWorkload()
	defer d.stopWorkload()
	if err := clock.Sleep(ctx, d.opts.Steady+d.opts.After); err != nil {
		return err
	}
	d.stopWorkload()
	a, err := d.store(d.dr).Active(ctx)
	if err != nil {
		return err
	}
	if a.Region != d.primary || a.Epoch != d.primaryEpochBase {
		return fmt.Errorf("a failover happened without a fault: %s active at epoch %d", a.Region, a.Epoch)
	}
	return nil
}

func (d *run) regionOutage(ctx context.Context) error { return d.outage(ctx, outageHooks{}) }

// outage is the region-outage drill: fault, detection, failover, RTO and
// RPO, heal, planned failback; the hooks let chaos scenarios add to it.
func (d *run) outage(ctx context.Context, hooks outageHooks) error {
	d.say("steady state: %d writes/s, %d clients, for %s", d.opts.Rate, d.opts.Concurrency, d.opts.Steady)
	d.startWorkload()
	defer d.stopWorkload()
	if err := clock.Sleep(ctx, d.opts.Steady); err != nil {
		return err
	}
	fo, err := d.failover(ctx)
	if err != nil {
		return err
	}
	if hooks.afterFailover != nil {
		if err := hooks.afterFailover(ctx); err != nil {
			return err
		}
	}
	if err := d.heal(ctx, fo); err != nil {
		return err
	}
	if hooks.beforeFailback != nil {
		if err := hooks.beforeFailback(ctx); err != nil {
			return err
		}
	}
	return d.plannedFailback(ctx, fo, hooks.failback)
}

// failover injects the fault (the scenario's, when it has one) and
// measures what follows: the failover, RTO with its breakdown, RPO.
func (d *run) failover(ctx context.Context) (*report.FailoverReport, error) {
	fo := &report.FailoverReport{}
	d.rep.Failover = fo
	fo.FaultAt = time.Now().UTC()
	inject := func(ctx context.Context) (string, error) { return d.t.Inject(ctx, d.primary) }
	if d.faultHook != nil {
		inject = d.faultHook
	}
	how, err := inject(ctx)
	if err != nil {
		return nil, err
	}
	d.say("FAULT: %s", how)

	var promoted record.Active
	err = d.poll(ctx, "failover to "+d.dr, func() (bool, error) {
		v, err := d.fc.View(ctx, d.primary, d.dr)
		promoted = v.Active
		return err == nil && v.Active.Region == d.dr && v.Active.Hold == "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("failover did not happen: %w", err)
	}
	fo.Epoch = promoted.Epoch
	var first workload.Write
	if err := d.poll(ctx, "first write acknowledged by "+d.dr, func() (bool, error) {
		w, ok := workload.FirstAck(d.wl.Writes(), d.dr, fo.FaultAt)
		first = w
		return ok, nil
	}); err != nil {
		return nil, err
	}
	fo.FirstAckDR = first.Done.UTC()
	d.say("RECOVERED: first write acknowledged by %s after %.2fs", d.dr, first.Done.Sub(fo.FaultAt).Seconds())
	journal, err := d.store(d.dr).Run(ctx, fo.Epoch)
	if err != nil {
		return nil, err
	}
	fo.Journal = journal
	floor, why := d.t.DetectionFloor(ctx)
	fo.Measure(floor, why)

	// RPO: writes the primary acknowledged that the DR region does not have
	// now that it has taken over.
	var primaryAcked []workload.Write
	for _, w := range d.wl.Writes() {
		if w.Acked() && w.Region == d.primary {
			primaryAcked = append(primaryAcked, w)
		}
	}
	missing, err := d.subject.missingItems(ctx, d.dr, ids(primaryAcked))
	if err != nil {
		return nil, err
	}
	d.rep.RPO = rpo(primaryAcked, missing)
	outage := d.t.OutageProfile()
	d.rep.RPO.Note = outage.RPONote
	d.say("RPO: %d acknowledged writes not in %s at takeover (%.3fs of writes)", d.rep.RPO.Missing, d.dr, d.rep.RPO.SpanSeconds)
	if outage.RTOSlack > 0 && (d.opts.Scenario == RegionOutage || strings.HasPrefix(string(d.opts.Scenario), "controller-crash-after-")) {
		if budget := fo.DetectionFloor + outage.RTOSlack.Seconds(); fo.RTOSeconds > budget {
			d.fail(fmt.Sprintf("RTO %.2fs is over the budget %.2fs (detection floor + %s)", fo.RTOSeconds, budget, outage.RTOSlack))
		}
	}
	if d.rep.Observed == "" {
		d.rep.Observed = fmt.Sprintf("failover to %s at epoch %d", d.dr, fo.Epoch)
	}
	return fo, nil
}

// heal waits the scenario's time in the DR region, heals the primary,
// turns failback replication on, and waits for the fence to land there.
func (d *run) heal(ctx context.Context, fo *report.FailoverReport) error {
	if err := clock.Sleep(ctx, d.opts.After); err != nil {
		return err
	}
	d.rep.HealedAt = time.Now().UTC()
	if err := d.t.Heal(ctx, d.primary); err != nil {
		return err
	}
	// The returning region catches up on what the DR region took meanwhile:
	// tables replicate both ways already; objects need the reverse rule.
	if err := d.t.FailbackReplication(ctx, true); err != nil {
		return err
	}
	d.say("HEAL: %s back on the network; DR → primary object replication on", d.primary)
	if err := d.poll(ctx, "fence to land in "+d.primary, func() (bool, error) {
		a, err := d.store(d.primary).Active(ctx)
		return err == nil && a.Epoch >= fo.Epoch, nil
	}); err != nil {
		return err
	}
	fo.FenceLandedAt = time.Now().UTC()
	d.say("fenced: %s holds epoch %d and refuses writes", d.primary, fo.Epoch)
	return nil
}

// plannedFailback fails back (the scenario's way, when it has one) and
// measures it: writes lost at promotion, and how long writes were refused.
func (d *run) plannedFailback(ctx context.Context, fo *report.FailoverReport, fail func(context.Context) (failover.Result, error)) error {
	fb := &report.FailbackReport{StartedAt: time.Now().UTC()}
	d.rep.Failback = fb
	d.say("FAILBACK: planned, %s → %s", d.dr, d.primary)
	if fail == nil {
		fail = func(ctx context.Context) (failover.Result, error) { return d.failback(ctx, "drill failback") }
	}
	res, err := fail(ctx)
	if err != nil {
		return fmt.Errorf("failback: %w", err)
	}
	fb.Epoch, fb.Journal = res.Epoch, res.Journal
	// Loss is counted at the promotion instant: every write the DR region
	// acknowledged must be in the primary now, not after things settle.
	var drAcked []workload.Write
	for _, w := range d.wl.Writes() {
		if w.Acked() && w.Region == d.dr {
			drAcked = append(drAcked, w)
		}
	}
	mi, err := d.subject.missingItems(ctx, d.primary, ids(drAcked))
	if err != nil {
		return err
	}
	ma, err := d.subject.missingObjects(ctx, d.primary, ids(drAcked))
	if err != nil {
		return err
	}
	fb.Lost = len(mi) + len(ma)
	if fb.Lost > 0 {
		d.breach(fmt.Sprintf("failback lost %d acknowledged writes at promotion (%d items, %d attachments missing in %s, e.g. %v)", fb.Lost, len(mi), len(ma), d.primary, append(mi, ma...)[:min(5, fb.Lost)]))
	}

	if j, err := d.store(d.dr).Run(ctx, fo.Epoch); err == nil {
		fo.Journal = j // with the phases journaled after the first write
	}
	var back workload.Write
	if err := d.poll(ctx, "first write acknowledged by "+d.primary+" after failback", func() (bool, error) {
		w, ok := workload.FirstAck(d.wl.Writes(), d.primary, fb.StartedAt)
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
	for _, w := range d.wl.Writes() {
		if w.Acked() && w.Region == d.dr && w.Done.After(lastDR) && w.Done.Before(back.Done) {
			lastDR = w.Done
		}
	}
	fb.UnavailableSeconds = back.Done.Sub(lastDR).Seconds()
	d.say("failed back: first write acknowledged by %s after %.2fs", d.primary, fb.UnavailableSeconds)
	return clock.Sleep(ctx, time.Second)
}

func ids(ws []workload.Write) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

// finish stops the workload, waits for replication to settle, and checks
// every acknowledged write in both regions.
func (d *run) finish(ctx context.Context) {
	d.stopWorkload()
	rep := d.rep
	if d.wl == nil {
		d.validate(ctx)
		rep.Finished = time.Now().UTC()
		rep.Pass = len(rep.Failures) == 0
		return
	}
	writes := d.wl.Writes()
	for _, x := range d.extra {
		writes = append(writes, x.Writes()...)
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].Sent.Before(writes[j].Sent) })
	var acked []workload.Write
	for _, w := range writes {
		if w.Acked() {
			acked = append(acked, w)
		}
	}
	rep.Writes = summarize(writes, d.startedAt)
	rep.FencedAcks, rep.FencedSamples = d.fencedAcks(ctx, acked)
	d.say("checking %d acknowledged writes in both regions", len(acked))
	var in report.Integrity
	err := d.poll(ctx, "every acknowledged write in both regions", func() (bool, error) {
		in = report.Integrity{}
		for _, r := range []string{d.primary, d.dr} {
			m, err := d.subject.missingItems(ctx, r, ids(acked))
			if err != nil {
				return false, err
			}
			a, err := d.subject.missingObjects(ctx, r, ids(acked))
			if err != nil {
				return false, err
			}
			in.Add(r, d.primary, m, a)
		}
		return in.Total() == 0, nil
	})
	rep.Integrity = in
	if err != nil {
		d.breach(fmt.Sprintf("acknowledged writes missing after settling: %d items and %d attachments in %s, %d items and %d attachments in %s",
			len(in.ItemsMissingPrimary), len(in.AttachmentsMissingPrimary), d.primary, len(in.ItemsMissingDR), len(in.AttachmentsMissingDR), d.dr))
	}
	if rep.FencedAcks > 0 {
		d.breach(fmt.Sprintf("%d writes were acknowledged by a fenced region, e.g. %v", rep.FencedAcks, rep.FencedSamples))
	}
	d.invariants(ctx, writes)
	d.validate(ctx)
	d.objectives()
	rep.Events = d.t.Events(ctx, rep.Started)
	// The lab enforces the templates' IAM: a refusal is a permission a
	// real deployment would lack.
	var denied []string
	for _, e := range rep.Events {
		if e.Kind == "access-denied" {
			denied = append(denied, e.Region+": "+e.Detail)
		}
	}
	if len(denied) > 0 {
		d.fail(fmt.Sprintf("the templates' IAM refused %d requests during the drill (fix the role in cloudformation/), e.g. %s", len(denied), denied[0]))
	}
	rep.Finished = time.Now().UTC()
	rep.Pass = len(rep.Failures) == 0
}

// validate has the data validator compare the regions: after the drill they
// must hold the same data, not only the acknowledged writes.
func (d *run) validate(ctx context.Context) {
	run, differ := d.t.Validate, "the regions differ after the drill"
	if a := d.opts.App; a != nil {
		// pilotlight's own table holds none of the application's writes.
		run, differ = d.appValidator(a.Table).Run, "table "+a.Table+" differs between the regions after the drill"
		d.say("running the data validator on table %s", a.Table)
	} else {
		d.say("running the data validator")
	}
	v, err := run(ctx)
	if err != nil {
		d.fail(fmt.Sprintf("the data validator could not run: %v", err))
		return
	}
	d.rep.Validation = v
	if !v.Clean() {
		d.breach(fmt.Sprintf("%s: %d items missing in %s, %d missing in %s, %d divergent (e.g. %v)", differ,
			v.MissingInDR.Count, d.dr, v.MissingInPrimary.Count, d.primary, v.Divergent.Count,
			append(append(v.MissingInDR.Samples, v.MissingInPrimary.Samples...), v.Divergent.Samples...)))
	}
}

// fencedAcks counts acknowledged writes committed by a region after another
// region had been promoted at a higher epoch: split-brain writes. The orders
// service's transaction (and the guard package) makes them impossible; the
// drill proves it. An unguarded write (epoch 0: a routing-only
// application) is fenced when it was acknowledged by a region other than
// the one last promoted before it was sent.
func (d *run) fencedAcks(ctx context.Context, acked []workload.Write) (int, []string) {
	type promotion struct {
		at     time.Time
		region string
	}
	promoted := map[int64]promotion{}
	for _, r := range []string{d.primary, d.dr} {
		a, err := d.store(r).Active(ctx)
		if err != nil {
			continue
		}
		for e := d.primaryEpochBase + 1; e <= a.Epoch; e++ {
			j, err := d.store(r).Run(ctx, e)
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
		best, who := time.Time{}, d.primary
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
