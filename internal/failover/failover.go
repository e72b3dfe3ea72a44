package failover

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Prober checks that a region's infrastructure answers (DynamoDB, S3).
// It returns nil when healthy.
type Prober interface {
	Probe(ctx context.Context, region string) error
}

// RoutingView is the second vantage point: what the routing layer's health
// checks (Route 53, or the lab front door) say about a region, as clients
// see it. It returns an error when the view is unavailable.
type RoutingView interface {
	Healthy(ctx context.Context, region string) (bool, error)
}

// Drainer waits until every write from acknowledged since its tenure began
// (since: the Since of the epoch it hands over; zero when unknown, then
// everything it holds) has reached to. It is used by planned failover only.
// Writes before the tenure are not from's to prove: they were another
// region's, proved by the failback that ended that region's tenure, or
// counted as lost (RPO) by the failover that ended it.
type Drainer interface {
	Drain(ctx context.Context, from, to string, since time.Time) error
}

// Notifier announces phase changes (SNS on AWS, a notifications log in the
// lab). Failures are logged, never fatal.
type Notifier interface {
	Notify(ctx context.Context, e record.Entry) error
}

// Controller runs failovers between two regions. New builds one; the zero
// value is not usable.
//
// Invariants it keeps (each proved by a test or a drill scenario that
// injects the fault that would break it):
//   - No split brain: a region becomes active only by a claim on a majority
//     of the control records (internal/control), which an unexpired lease of
//     the old holder blocks; a forced claim waits the old lease out.
//   - Some region accepts writes: a planned run that cannot drain un-fences
//     its source (a higher-epoch claim for it); an unfinished run is resumed
//     or rolled back by Reconcile, which the schedule calls.
//   - Failback loses nothing: a planned run stops writes at the source (its
//     own record moves in the handover claim) before it drains, and releases
//     the target only after the drain.
type Controller struct {
	cfg Config
}

// Config is what a Controller is built from. Zero fields take the defaults
// below, the same wherever a controller runs: the failover-controller
// function, the CLI (an operator's failover or failback, a drill) and the
// lab.
type Config struct {
	// Clients reach both regions and the witness, one attempt per call
	// (probes and control writes must not hide behind retries). From them
	// New builds the control Stores, the Probe and the Verifier that are
	// not given.
	Clients map[string]*region.Clients
	Names   region.Names
	// Deployment is the deployment's one description (regions, witness,
	// lease, agreement wait, min dwell); a zero Lease is control.AWSLease.
	Deployment

	Stores   map[string]*control.Store // the control tables: both regions and the witness
	Probe    Prober
	Routing  RoutingView // nil: the witness is the second opinion (or, without one, forced runs only)
	Drain    Drainer
	Notify   Notifier
	Verifier func(ctx context.Context, region string, epoch int64) error
	// AlarmState reads the detection alarm's state ("ALARM", "OK", …) for
	// Reconcile, because alarm events fire only on a change of state. Nil:
	// Reconcile does not re-evaluate.
	AlarmState func(ctx context.Context) (string, error)

	// FenceTimeout bounds one attempt to read or fence a control record.
	FenceTimeout time.Duration
	// VerifyTimeout bounds verification of the new region.
	VerifyTimeout time.Duration
	// ClaimWait is how long an unplanned claim keeps trying while the old
	// holder's grant runs out (default term + ε + 1 s).
	ClaimWait time.Duration
	// DecisionMaxAge: a decision older than this that was never acted on
	// is checked against every guard again.
	DecisionMaxAge time.Duration
	// ResumeAfter: a planned handover held this long is taken for
	// interrupted and resumed by the tick (default: one lease term; a live
	// run drains well inside it).
	ResumeAfter time.Duration
	// HoldMaxAge: a planned handover held longer than this (its controller
	// died while draining) that the tick cannot resume (it has no drainer)
	// is rolled back by the tick.
	HoldMaxAge time.Duration
	Now        func() time.Time
	// ClockBound measures how far Now may be off true time, for claims
	// made from a machine whose clock is not within ε (the CLI on AWS; see
	// control.Quorum.ClockBound). Nil: trusted.
	ClockBound func(ctx context.Context) (time.Duration, error)
}

// The defaults, one set for every controller.
const (
	// DefaultFenceTimeout: a control record is one small DynamoDB item a
	// region or two away; 2 s covers a cold TLS connection from a laptop,
	// and a dead region costs no more than that.
	DefaultFenceTimeout = 2 * time.Second
	// DefaultAgreementWait: Route 53's fast health checks (10 s, three
	// failures) may trail the alarm by 30 s. The lab, whose front door
	// checks every second, sets its own (PILOTLIGHT_AGREEMENT_WAIT).
	DefaultAgreementWait = 30 * time.Second
	// DefaultVerifyTimeout bounds the new region's first write.
	DefaultVerifyTimeout = 10 * time.Second
	// DefaultDecisionMaxAge: an older decision is checked again.
	DefaultDecisionMaxAge = 30 * time.Second
	// DefaultHoldMaxAge: a handover held longer is rolled back.
	DefaultHoldMaxAge = 2 * time.Minute
)

// New builds a controller from cfg, filling what is not set: stores, probe
// and verifier from Clients, the lease (control.AWSLease) and the timeouts
// (the Default constants).
func New(cfg Config) *Controller {
	if cfg.Stores == nil {
		cfg.Stores = map[string]*control.Store{}
		for r, c := range cfg.Clients {
			cfg.Stores[r] = control.New(c, cfg.Names)
		}
	}
	apps := map[string]*region.Clients{}
	for r, c := range cfg.Clients {
		if r != cfg.Witness {
			apps[r] = c
		}
	}
	if cfg.Probe == nil && len(apps) > 0 {
		cfg.Probe = RegionProber{Clients: apps, Names: cfg.Names}
	}
	if cfg.Verifier == nil && len(apps) > 0 {
		cfg.Verifier = WriteVerifier(apps, cfg.Names)
	}
	if cfg.Lease.Term == 0 {
		cfg.Lease = control.AWSLease
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.FenceTimeout, DefaultFenceTimeout}, {&cfg.AgreementWait, DefaultAgreementWait}, {&cfg.VerifyTimeout, DefaultVerifyTimeout},
		{&cfg.DecisionMaxAge, DefaultDecisionMaxAge}, {&cfg.HoldMaxAge, DefaultHoldMaxAge}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.ResumeAfter == 0 {
		cfg.ResumeAfter = cfg.Lease.Term
	}
	if cfg.ClaimWait == 0 {
		cfg.ClaimWait = cfg.Lease.Term + cfg.Lease.Epsilon + time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Controller{cfg: cfg}
}

// Stores are the control tables the controller reads and claims, by region.
func (c *Controller) Stores() map[string]*control.Store { return c.cfg.Stores }

// Witness is the witness region ("" in two-region mode).
func (c *Controller) Witness() string { return c.cfg.Witness }

// Deployment is the description the controller was built from.
func (c *Controller) Deployment() Deployment { return c.cfg.Deployment }

// Notify announces e, when the controller has a notifier (best effort).
func (c *Controller) Notify(ctx context.Context, e record.Entry) {
	if c.cfg.Notify != nil {
		_ = c.cfg.Notify.Notify(ctx, e)
	}
}

// Request asks for a failover.
type Request struct {
	From, To string
	Reason   string
	// Planned: stop writes at From, wait for replication to drain, then
	// switch (zero acknowledged writes lost). Used for failback.
	Planned bool
	// Force skips the routing-view guard and the wait for the old holder's
	// grant (an operator's manual failover); the new region then waits a
	// whole term + ε + δ before its first write.
	Force bool
	// Operator: a person asked for it; they are the second opinion (the
	// routing-view guard is skipped, the lease is still waited for).
	Operator bool
	// WithoutWitness claims on the two application regions' records only
	// (the primary and the witness are down together): best effort.
	WithoutWitness bool
	// DryRun checks and reports what would happen without writing.
	DryRun bool
}

// Outcome of a run.
type Outcome string

const (
	// OutcomeCompleted: the target region is active.
	OutcomeCompleted Outcome = "completed"
	// OutcomeAlreadyActive: the target was already active; nothing to do.
	OutcomeAlreadyActive Outcome = "already-active"
	// OutcomeRefused: a guard said no (details in Result.Reason).
	OutcomeRefused Outcome = "refused"
	// OutcomeRolledBack: a planned run could not finish and gave the
	// source its writes back (details in Result.Reason).
	OutcomeRolledBack Outcome = "rolled-back"
	// OutcomePlan: a dry run's plan.
	OutcomePlan Outcome = "plan"
)

// Result reports a run.
type Result struct {
	Outcome Outcome        `json:"outcome"`
	From    string         `json:"from"`
	To      string         `json:"to"`
	Epoch   int64          `json:"epoch"`
	Reason  string         `json:"reason,omitempty"`
	Fenced  bool           `json:"fenced"`  // the old region's own record moved
	Promote bool           `json:"promote"` // this call won the claim
	Journal []record.Entry `json:"journal,omitempty"`
	Plan    []string       `json:"plan,omitempty"`
}

// GuardError is a refused failover, with what would let it proceed.
type GuardError struct {
	Guard string
	Msg   string
}

func (e *GuardError) Error() string { return e.Guard + ": " + e.Msg }

func (c *Controller) now() time.Time { return c.cfg.Now() }

// LeaseConfig is the lease arithmetic the controller works with.
func (c *Controller) LeaseConfig() control.LeaseConfig { return c.lease() }

func (c *Controller) lease() control.LeaseConfig { return c.cfg.Lease }

func (c *Controller) store(region string) (*control.Store, error) {
	s, ok := c.cfg.Stores[region]
	if !ok {
		return nil, fmt.Errorf("no control table configured for region %q", region)
	}
	return s, nil
}

// Quorum is the lease protocol over the records of from, to and the witness.
func (c *Controller) Quorum(from, to string, withoutWitness bool) *control.Quorum {
	q := &control.Quorum{Lease: c.lease(), Now: c.cfg.Now, ClockBound: c.cfg.ClockBound}
	for _, r := range []string{from, to} {
		if s, ok := c.cfg.Stores[r]; ok {
			q.Stores = append(q.Stores, s)
		}
	}
	if w, ok := c.cfg.Stores[c.cfg.Witness]; ok && c.cfg.Witness != "" && !withoutWitness {
		q.Stores, q.Witness = append(q.Stores, w), c.cfg.Witness
	}
	return q
}

// View reads the control records of both regions and the witness and says
// which region is active: the holder of the highest epoch on a majority.
func (c *Controller) View(ctx context.Context, a, b string) (record.View, error) {
	return c.Quorum(a, b, false).Read(ctx, c.fenceTimeout())
}

func (c *Controller) fenceTimeout() time.Duration { return c.cfg.FenceTimeout }

// fenceFlag names the flag row remembering a fence that has not landed.
const fenceFlag = "fence-pending"

// Run executes (or resumes) a failover from req.From to req.To. Re-invoking
// with the same request resumes from the journal and reaches the same end.
func (c *Controller) Run(ctx context.Context, req Request) (Result, error) {
	res := Result{From: req.From, To: req.To}
	if req.From == req.To || req.From == "" || req.To == "" {
		return res, fmt.Errorf("failover needs two different regions, got %q and %q", req.From, req.To)
	}
	if req.From == c.cfg.Witness || req.To == c.cfg.Witness {
		return res, fmt.Errorf("%s is the witness region: it holds a control record only and cannot be failed over to or from", c.cfg.Witness)
	}
	if _, err := c.store(req.From); err != nil {
		return res, err
	}
	dst, err := c.store(req.To)
	if err != nil {
		return res, err
	}
	q := c.Quorum(req.From, req.To, req.WithoutWitness)
	view, err := q.Read(ctx, c.fenceTimeout())
	if err != nil && q.Witness != "" && !req.Force {
		return res, fmt.Errorf("%w: a majority of control records must be readable to fail over", err)
	}
	cur := view.Active
	epoch := view.HighestEpoch() + 1
	if cur.Region == req.To {
		// Claimed already: finish a run that stopped after its claim (or a
		// held handover), or report that there is nothing to do.
		journal, err := dst.Run(ctx, cur.Epoch)
		if err != nil {
			return res, err
		}
		if cur.Hold == "" && (len(journal) == 0 || journal[len(journal)-1].Phase == record.Completed) {
			res.Outcome, res.Epoch, res.Journal = OutcomeAlreadyActive, cur.Epoch, journal
			return res, nil
		}
		epoch = cur.Epoch
		for _, e := range journal {
			if e.Phase == record.Detected {
				req.Planned = strings.HasPrefix(e.Detail, "planned")
			}
		}
		// A held epoch is finished the way it began, whatever this run
		// was asked: a handover drains and releases; a forced claim's
		// wait is kept (the claim waits out the hold's HoldUntil).
		switch cur.Kind() {
		case record.HoldHandover:
			req.Planned = true
		case record.HoldForced:
			req.Planned = false
		}
	}
	res.Epoch = epoch
	journal, err := dst.Run(ctx, epoch)
	if err != nil {
		return res, err
	}
	done := map[record.Phase]record.Entry{}
	for _, e := range journal {
		done[e.Phase] = e
	}
	if d, ok := done[record.Decided]; ok && done[record.Fenced].Phase == "" && cur.Region != req.To && c.now().Sub(d.At) > c.decisionMaxAge() {
		// A decision never acted on, and old: the world may have changed
		// since. Check every guard again, as a new run.
		for _, p := range []record.Phase{record.Decided, record.Detected} {
			if err := dst.Forget(ctx, epoch, p); err != nil {
				return res, err
			}
		}
		delete(done, record.Decided)
		delete(done, record.Detected)
	}
	if req.DryRun {
		res.Outcome = OutcomePlan
		res.Plan = c.plan(ctx, req, cur, epoch, done)
		return res, nil
	}
	step := func(p record.Phase, detail string) error {
		e := record.Entry{Epoch: epoch, Phase: p, At: c.now().UTC(), From: req.From, To: req.To, Detail: detail}
		wrote, err := dst.Record(ctx, e)
		if err != nil {
			return err
		}
		if wrote && c.cfg.Notify != nil {
			_ = c.cfg.Notify.Notify(ctx, e)
		}
		return nil
	}
	refuse := func(err error) (Result, error) {
		res.Outcome, res.Reason = OutcomeRefused, err.Error()
		for _, p := range []record.Phase{record.Decided, record.Detected} {
			if ferr := dst.Forget(ctx, epoch, p); ferr != nil {
				return res, errors.Join(err, ferr)
			}
		}
		if c.cfg.Notify != nil {
			_ = c.cfg.Notify.Notify(ctx, record.Entry{Epoch: epoch, Phase: record.Detected, At: c.now().UTC(), From: req.From, To: req.To, Detail: "refused: " + err.Error()})
		}
		return res, err
	}
	kind := "unplanned"
	if req.Planned {
		kind = "planned"
	}
	if err := step(record.Detected, kind+": "+req.Reason); err != nil {
		return res, err
	}
	// Until its claim has landed, a decision is checked again on every run:
	// a refused run forgets its decision, but a forget that failed (its
	// region slow) must not let the next run skip the guards. Once the
	// claim holds a majority (cur is the target's epoch) the run is a
	// resume: the guards are not asked again — the hold guard would refuse
	// the run's own held epoch for ever once its decision was forgotten (a
	// resumed claim refused while a late record write was still landing).
	_, decided := done[record.Decided]
	switch {
	case cur.Region == req.To && cur.Epoch == epoch:
		if !decided {
			if err := step(record.Decided, "resumed: the claim holds a majority"); err != nil {
				return res, err
			}
		}
	case !decided || done[record.Fenced].Phase == "":
		if err := c.guards(ctx, req, cur); err != nil {
			return refuse(err)
		}
		if !decided {
			if err := step(record.Decided, "guards passed"); err != nil {
				return res, err
			}
		}
	}
	// The source's tenure, which a failback proves: from its record on
	// this run, or the held records' FromSince on a resume (the resuming
	// process never saw the source's record). Every proof and every
	// re-claim starts there.
	tenure := cur.TenureStart()
	if cur.Region == req.To {
		tenure = cur.FromSince
	}
	if _, ok := done[record.Fenced]; !ok {
		var detail string
		var err error
		if req.Planned {
			// Catch up while the source still takes writes, so the drain
			// after the handover (when nobody may write) is short.
			if c.cfg.Drain != nil {
				catchUp := c.cfg.Drain.Drain
				if cu, ok := c.cfg.Drain.(CatchUpper); ok {
					catchUp = cu.CatchUp
				}
				if err := catchUp(ctx, req.From, req.To, c.earliest(tenure)); err != nil {
					return refuse(&GuardError{"replication", fmt.Sprintf("replication %s → %s did not catch up (%v): nothing was fenced", req.From, req.To, err)})
				}
			}
			detail, err = c.handover(ctx, q, req, cur, epoch, tenure)
		} else {
			detail, err = c.claim(ctx, q, req, dst, epoch)
		}
		var ge *GuardError
		if errors.As(err, &ge) {
			return refuse(err)
		}
		if err != nil {
			return res, err
		}
		res.Promote = true
		res.Fenced = !strings.HasPrefix(detail, "pending")
		if err := step(record.Fenced, detail); err != nil {
			return res, err
		}
	} else {
		res.Fenced = !strings.HasPrefix(done[record.Fenced].Detail, "pending")
	}
	if _, ok := done[record.Promoted]; !ok {
		if req.Planned {
			if err := c.drainAndRelease(ctx, q, req, epoch, tenure); err != nil {
				if ctx.Err() != nil {
					// Interrupted (Ctrl-C, a timeout), not failed: like a
					// crash, it leaves the handover held for a resume — a
					// re-run, or the tick within ResumeAfter — which drains
					// and releases. Rolling back would undo a failback that
					// only needed finishing.
					return res, fmt.Errorf("%w: interrupted after the handover; %s stays held at epoch %d until the run is resumed (re-run it, or the failover controller's tick resumes it)", err, req.To, epoch)
				}
				if rerr := c.rollback(ctx, req, epoch, tenure, err.Error()); rerr != nil {
					return res, errors.Join(err, rerr)
				}
				res.Outcome, res.Reason = OutcomeRolledBack, err.Error()
				return res, fmt.Errorf("%w: %s accepts writes again at epoch %d", err, req.From, epoch+1)
			}
		}
		if err := step(record.Promoted, fmt.Sprintf("%s active at epoch %d", req.To, epoch)); err != nil {
			return res, err
		}
	}
	if _, ok := done[record.Verified]; !ok {
		if err := c.verify(ctx, q, dst, req.To, epoch); err != nil {
			return res, fmt.Errorf("verify %s: %w (re-run to resume)", req.To, err)
		}
		if err := step(record.Verified, "accepts writes"); err != nil {
			return res, err
		}
	}
	if err := step(record.Completed, ""); err != nil {
		return res, err
	}
	res.Outcome = OutcomeCompleted
	res.Journal, err = dst.Run(ctx, epoch)
	return res, err
}

func (c *Controller) decisionMaxAge() time.Duration { return c.cfg.DecisionMaxAge }

func (c *Controller) holdMaxAge() time.Duration { return c.cfg.HoldMaxAge }

// claim makes req.To the holder at epoch on a majority (unplanned). The
// records that still carry the old holder's grant refuse until it runs out,
// so it retries for ClaimWait. The source's own record is the fence: when it
// could not be reached, a flag remembers it and Reconcile retries.
func (c *Controller) claim(ctx context.Context, q *control.Quorum, req Request, dst *control.Store, epoch int64) (string, error) {
	deadline := time.Now().Add(c.cfg.ClaimWait)
	for {
		cr, err := q.Claim(ctx, req.To, epoch, control.ClaimOptions{Force: req.Force})
		if err == nil {
			detail := fmt.Sprintf("claimed epoch %d on %s", epoch, strings.Join(cr.Won, ", "))
			if !contains(cr.Won, req.From) {
				if ferr := dst.SetFlag(ctx, fenceFlag, req.From+"@"+strconv.FormatInt(epoch, 10)); ferr != nil {
					return "", ferr
				}
				return fmt.Sprintf("pending: %s's own record unreachable (%v), retried until it lands; %s", req.From, cr.Failed[req.From], detail), nil
			}
			return "fenced " + req.From + "; " + detail, nil
		}
		if errors.Is(err, control.ErrClock) {
			return "", &GuardError{"clock", err.Error()}
		}
		if !errors.Is(err, control.ErrConflict) || time.Now().After(deadline) {
			if errors.Is(err, control.ErrConflict) {
				return "", &GuardError{"majority", fmt.Sprintf("%v: %s still holds its grant on a majority (a partition, not an outage?)", err, req.From)}
			}
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(q.Lease.Term / 8):
		}
		// The wait for the old grant lasts up to a term: the target must
		// still be healthy when the claim that lands is made.
		if err := c.probeTarget(ctx, req); err != nil {
			return "", err
		}
	}
}

// handover moves every reachable record from the source to the target at
// epoch, held until the drain is over, each keeping the source's tenure.
// The source's own record must take it: that is what stops the source's
// writes.
func (c *Controller) handover(ctx context.Context, q *control.Quorum, req Request, cur record.Active, epoch int64, tenure time.Time) (string, error) {
	cr, err := q.Claim(ctx, req.To, epoch, control.ClaimOptions{Handover: true, From: req.From, FromEpoch: cur.Epoch, FromSince: tenure, Hold: "draining " + req.From + " → " + req.To})
	if err != nil {
		if len(cr.Won) > 0 {
			// Part of the handover landed: give the source its writes back.
			if rerr := c.rollback(ctx, req, epoch, tenure, err.Error()); rerr != nil {
				return "", errors.Join(err, rerr)
			}
		}
		return "", fmt.Errorf("stop writes in %s: %w", req.From, err)
	}
	return fmt.Sprintf("writes stopped in %s (epoch %d held on %s)", req.From, epoch, strings.Join(cr.Won, ", ")), nil
}

// drainAndRelease waits for replication from → to, then lifts the hold and
// grants the target its first lease.
func (c *Controller) drainAndRelease(ctx context.Context, q *control.Quorum, req Request, epoch int64, tenure time.Time) error {
	if c.cfg.Drain != nil {
		if err := c.cfg.Drain.Drain(ctx, req.From, req.To, c.earliest(tenure)); err != nil {
			return fmt.Errorf("wait for replication %s → %s: %w", req.From, req.To, err)
		}
	}
	if _, err := q.Release(ctx, req.To, epoch); err != nil {
		return fmt.Errorf("release %s at epoch %d: %w", req.To, epoch, err)
	}
	return nil
}

// earliest is the earliest true time at which a holder whose tenure began
// at since (by its claimer's clock) can have acknowledged a write: a
// claim's clock is trusted within a term (a claim whose clock was measured
// further off is refused, control.ErrClock) and a Lambda host's within ε.
// Zero stays zero (unknown: the drain proves everything).
func (c *Controller) earliest(since time.Time) time.Time {
	if since.IsZero() {
		return since
	}
	l := c.lease()
	return since.Add(-l.Term - l.Epsilon)
}

// rollback un-fences a planned run's source: it claims epoch+1 for it (the
// held records grant nothing, so the claim passes) and notifies why. The
// source's tenure goes on: the new records keep its start (tenure), so the
// next failback's drain still proves what it acknowledged before this.
func (c *Controller) rollback(ctx context.Context, req Request, epoch int64, tenure time.Time, why string) error {
	ctx = context.WithoutCancel(ctx)
	if tenure.IsZero() {
		// Unknown (held records from before their tenure was kept): the
		// earliest time there is, so the next drain proves everything.
		tenure = time.UnixMilli(1).UTC()
	}
	q := c.Quorum(req.From, req.To, req.WithoutWitness)
	if _, err := q.Claim(ctx, req.From, epoch+1, control.ClaimOptions{Tenure: tenure}); err != nil {
		return fmt.Errorf("un-fence %s at epoch %d: %w", req.From, epoch+1, err)
	}
	if c.cfg.Notify != nil {
		_ = c.cfg.Notify.Notify(ctx, record.Entry{Epoch: epoch + 1, Phase: record.Detected, At: c.now().UTC(), From: req.To, To: req.From,
			Detail: fmt.Sprintf("planned failover %s → %s rolled back (%s): %s accepts writes at epoch %d", req.From, req.To, why, req.From, epoch+1)})
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// guards checks whether the run may claim. The target's health is checked
// last, after any wait for the routing layer's agreement (up to
// AgreementWait, 30 s on AWS), and again before each retry of the claim:
// a probe taken before a wait says nothing of the target at the claim (a
// run started while the target was healthy must not claim after its S3
// turned slow during the wait).
func (c *Controller) guards(ctx context.Context, req Request, cur record.Active) error {
	if cur.Hold != "" {
		// A planned handover holds the records until its drain is over;
		// the tick rolls it back if its controller died.
		what := "a planned failover"
		if cur.Kind() == record.HoldForced {
			what = "a forced failover"
		}
		return &GuardError{"handover", fmt.Sprintf("%s to %s is in progress at epoch %d (%s): wait for it", what, cur.Region, cur.Epoch, cur.Hold)}
	}
	if cur.Region != req.From && (req.Planned || cur.Region != "") {
		return &GuardError{"source", fmt.Sprintf("%s is not the active region (%s is, at epoch %d)", req.From, orNone(cur.Region), cur.Epoch)}
	}
	if c.cfg.MinDwell > 0 && !cur.Since.IsZero() && c.now().Sub(cur.Since) < c.cfg.MinDwell {
		return &GuardError{"dwell", fmt.Sprintf("last switch was %s ago; wait until %s have passed (against flapping)", c.now().Sub(cur.Since).Round(time.Second), c.cfg.MinDwell)}
	}
	if req.Planned {
		if err := c.probeTarget(ctx, req); err != nil {
			return err
		}
		if c.cfg.Probe != nil {
			if err := c.cfg.Probe.Probe(ctx, req.From); err != nil {
				return &GuardError{"source-health", fmt.Sprintf("planned failover needs %s reachable to stop its writes (%v); use an unplanned failover", req.From, err)}
			}
		}
		if r, ok := c.cfg.Drain.(Readier); ok {
			if err := r.Ready(ctx, req.From, req.To); err != nil {
				return &GuardError{"replication", fmt.Sprintf("replication %s → %s cannot drain (%v): nothing was fenced", req.From, req.To, err)}
			}
		}
		return nil
	}
	if err := c.secondOpinion(ctx, req); err != nil {
		return err
	}
	return c.probeTarget(ctx, req)
}

// probeTarget is the target-health guard: failing over to a region that is
// not healthy itself would not help.
func (c *Controller) probeTarget(ctx context.Context, req Request) error {
	if c.cfg.Probe == nil {
		return nil
	}
	if err := c.cfg.Probe.Probe(ctx, req.To); err != nil {
		return &GuardError{"target-health", fmt.Sprintf("%s is not healthy itself (%v): failing over there would not help", req.To, err)}
	}
	return nil
}

// secondOpinion is an unplanned run's check that the source is down and
// not merely cut off from the DR region: the routing layer must agree
// within AgreementWait, or the witness is the second opinion (it grants
// only once the source stopped renewing). Forced and operator runs skip it.
func (c *Controller) secondOpinion(ctx context.Context, req Request) error {
	if req.Force || req.Operator {
		return nil
	}
	if c.cfg.Routing == nil {
		if c.cfg.Witness != "" && !req.WithoutWitness {
			return nil
		}
		return &GuardError{"second-opinion", "no routing view and no witness: only a forced failover can proceed"}
	}
	deadline := c.now().Add(c.cfg.AgreementWait)
	for {
		healthy, err := c.cfg.Routing.Healthy(ctx, req.From)
		switch {
		case err == nil && !healthy:
			return nil
		case !c.now().Before(deadline):
			if err != nil {
				return &GuardError{"second-opinion", fmt.Sprintf("routing view unavailable (%v)", err)}
			}
			return &GuardError{"second-opinion", fmt.Sprintf("the routing layer still sees %s healthy: a partition, not an outage", req.From)}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// verify waits until the target's own records let it write (holder, lease)
// and, when set, the Verifier's write succeeds.
func (c *Controller) verify(ctx context.Context, q *control.Quorum, dst *control.Store, to string, epoch int64) error {
	check := func(ctx context.Context) error {
		ws, err := dst.WriteState(ctx)
		if err != nil {
			return err
		}
		if ws.Active.Epoch != epoch {
			return fmt.Errorf("%s's record is at epoch %d, not %d", to, ws.Active.Epoch, epoch)
		}
		if err := ws.Writable(to, c.now(), c.lease()); err != nil {
			// Its health check renews on its schedule; do not wait for it.
			if _, rerr := q.Renew(ctx, to); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
		if c.cfg.Verifier != nil {
			return c.cfg.Verifier(ctx, to, epoch)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.VerifyTimeout)
	defer cancel()
	var err error
	for {
		if err = check(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Reconcile retries a fence that has not landed yet; region is where the
// pending flag lives (the active region). It reports whether a fence landed.
func (c *Controller) Reconcile(ctx context.Context, region string) (bool, error) {
	home, err := c.store(region)
	if err != nil {
		return false, err
	}
	flag, err := home.Flag(ctx, fenceFlag)
	if err != nil || flag == "" {
		return false, err
	}
	from, e, ok := strings.Cut(flag, "@")
	epoch, perr := strconv.ParseInt(e, 10, 64)
	if !ok || perr != nil {
		return false, fmt.Errorf("fence flag %q is malformed", flag)
	}
	src, err := c.store(from)
	if err != nil {
		return false, err
	}
	fctx, cancel := context.WithTimeout(ctx, c.cfg.FenceTimeout)
	err = src.Raise(fctx, record.Active{Region: region, Epoch: epoch, Since: c.now().UTC()})
	cancel()
	if err != nil {
		return false, nil // still unreachable; next time
	}
	if err := home.ClearFlag(ctx, fenceFlag); err != nil {
		return true, err
	}
	if c.cfg.Notify != nil {
		_ = c.cfg.Notify.Notify(ctx, record.Entry{Epoch: epoch, Phase: record.Fenced, At: c.now().UTC(), From: from, To: region, Detail: "fence landed in " + from + " after it returned"})
	}
	return true, nil
}

// TickResult reports what a scheduled tick did.
type TickResult struct {
	FenceLanded bool    `json:"fence_landed"`
	Action      string  `json:"action,omitempty"` // resumed, rolled-back, re-evaluated
	Result      *Result `json:"result,omitempty"`
	Reason      string  `json:"reason,omitempty"`
}

// Tick is the controller's scheduled work in home (the DR region), beside
// the alarm's one-shot invocations: it retries a pending fence; rolls back a
// planned handover held too long (its controller died while draining);
// resumes a run that stopped after its claim; and, while the alarm is still
// in ALARM and peer is still active, runs the failover again — so a refusal
// on a condition that later passes, or a controller that died before its
// claim, does not leave the application down.
func (c *Controller) Tick(ctx context.Context, home, peer string) (TickResult, error) {
	var tr TickResult
	landed, err := c.Reconcile(ctx, home)
	tr.FenceLanded = landed
	if err != nil {
		return tr, err
	}
	view, err := c.View(ctx, home, peer)
	if err != nil {
		tr.Reason = err.Error()
		return tr, nil
	}
	cur := view.Active
	switch {
	case cur.Hold != "":
		return c.tickHeld(ctx, home, peer, cur)
	case cur.Region == home:
		journal, err := c.cfg.Stores[home].Run(ctx, cur.Epoch)
		if err != nil || len(journal) == 0 || journal[len(journal)-1].Phase == record.Completed {
			return tr, err
		}
		tr.Action = "resumed"
		res, err := c.Run(ctx, Request{From: peer, To: home, Reason: "resumed by the scheduled tick"})
		tr.Result = &res
		return tr, err
	}
	if c.cfg.AlarmState == nil {
		return tr, nil
	}
	state, err := c.cfg.AlarmState(ctx)
	if err != nil {
		tr.Reason = "alarm state: " + err.Error()
		return tr, nil
	}
	if state != "ALARM" {
		return tr, nil
	}
	tr.Action = "re-evaluated"
	res, err := c.Run(ctx, Request{From: peer, To: home, Reason: "alarm still in ALARM (scheduled re-evaluation)"})
	tr.Result = &res
	var ge *GuardError
	if errors.As(err, &ge) {
		tr.Reason = err.Error()
		return tr, nil // journaled and notified; the next tick tries again
	}
	return tr, err
}

// tickHeld finishes a held epoch whose run stopped (its controller died or
// was interrupted): never by rolling back onto the side it fenced when it
// can go on.
//   - A forced claim's hold is resumed once its HoldUntil (+ε) has passed:
//     the old lease has run out, so the claim is released and verified.
//     Rolling it back would hand the writes to the region it was forced
//     away from, which is fenced or down.
//   - A handover's hold is resumed once it is ResumeAfter old (a lease
//     term: a live run drains well inside it) by a controller that can drain:
//     drain, release, verify, within one tick of the interruption. It is
//     rolled back only when it cannot be resumed (no drainer, or the
//     resumed drain failed) and has been held longer than HoldMaxAge.
func (c *Controller) tickHeld(ctx context.Context, home, peer string, cur record.Active) (TickResult, error) {
	var tr TickResult
	from := home
	if cur.Region == home {
		from = peer
	}
	if s, ok := c.cfg.Stores[cur.Region]; ok {
		if journal, err := s.Run(ctx, cur.Epoch); err == nil {
			for _, e := range journal {
				if e.Phase == record.Detected && e.From != "" {
					from = e.From
				}
			}
		}
	}
	now := c.now()
	age := now.Sub(cur.Since)
	switch kind := cur.Kind(); {
	case kind == record.HoldForced:
		until := cur.HoldUntil
		if until.IsZero() {
			l := c.lease()
			until = cur.Since.Add(l.Term/2 + l.Term + l.Epsilon + l.Delta)
		}
		if now.Before(until.Add(c.lease().Epsilon)) {
			tr.Reason = "a forced failover is waiting out the old lease"
			return tr, nil
		}
	case c.cfg.Drain == nil:
		if age <= c.holdMaxAge() {
			tr.Reason = "a planned handover is in progress (this controller cannot drain: it waits, then rolls back)"
			return tr, nil
		}
		why := fmt.Sprintf("handover to %s held since %s, longer than %s, and this controller cannot drain", cur.Region, cur.Since.Format(time.RFC3339), c.holdMaxAge())
		tr.Action, tr.Reason = "rolled-back", why
		return tr, c.rollback(ctx, Request{From: from, To: cur.Region}, cur.Epoch, cur.FromSince, why)
	case age < c.cfg.ResumeAfter:
		tr.Reason = "a planned handover is in progress"
		return tr, nil
	}
	tr.Action = "resumed"
	res, err := c.Run(ctx, Request{From: from, To: cur.Region, Planned: cur.Kind() == record.HoldHandover, Reason: "resumed by the scheduled tick"})
	tr.Result = &res
	if err != nil {
		tr.Reason = err.Error()
	}
	return tr, err
}

func (c *Controller) plan(ctx context.Context, req Request, cur record.Active, epoch int64, done map[record.Phase]record.Entry) []string {
	var p []string
	if _, decided := done[record.Decided]; !decided {
		if err := c.guards(ctx, req, cur); err != nil {
			return append(p, "REFUSED: "+err.Error())
		}
	}
	if req.Planned {
		p = append(p, fmt.Sprintf("stop writes in %s: hand epoch %d to %s on every record, held", req.From, epoch, req.To),
			fmt.Sprintf("wait until replication %s → %s has drained (if it cannot, give %s its writes back at epoch %d)", req.From, req.To, req.From, epoch+1),
			fmt.Sprintf("release %s: lift the hold and grant its first lease", req.To))
	} else {
		p = append(p, fmt.Sprintf("claim epoch %d for %s on a majority of control records (once %s's grant has run out)", epoch, req.To, req.From),
			fmt.Sprintf("fence %s's own record (best effort, retried until it lands)", req.From))
	}
	if c.cfg.Witness == "" || req.WithoutWitness {
		p = append(p, "NOTE: no witness: split-brain protection is best effort")
	}
	p = append(p, "verify that "+req.To+" accepts writes")
	return p
}

func orNone(r string) string {
	if r == "" {
		return "no region"
	}
	return r
}

// CatchUpper is a Drainer with a catch-up of its own: run before the
// handover, while the source still takes writes (so it can never be fully
// drained), it proves what it can and returns; the Drain after the handover
// then has only the rest to prove.
type CatchUpper interface {
	CatchUp(ctx context.Context, from, to string, since time.Time) error
}

// Readier is a Drainer that can tell, before anything is fenced, that a
// drain cannot succeed (replication paused, the reverse rule off).
type Readier interface {
	Ready(ctx context.Context, from, to string) error
}
