package failover

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
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

// Drainer waits until everything written in from before now has reached to
// (a canary written after the fence has replicated). It is used by planned
// failover only.
type Drainer interface {
	Drain(ctx context.Context, from, to string) error
}

// Notifier announces phase changes (SNS on AWS, a notifications log in the
// lab). Failures are logged, never fatal.
type Notifier interface {
	Notify(ctx context.Context, e control.Entry) error
}

// Controller runs failovers between two regions.
type Controller struct {
	Stores   map[string]*control.Store // both regions' control tables
	Probe    Prober
	Routing  RoutingView // nil: no second vantage point (manual failovers only)
	Drain    Drainer
	Notify   Notifier
	Verifier func(ctx context.Context, region string, epoch int64) error

	// MinDwell refuses a failover sooner than this after the last one.
	MinDwell time.Duration
	// FenceTimeout bounds one attempt to fence the old region.
	FenceTimeout time.Duration
	// VerifyTimeout bounds verification of the new region.
	VerifyTimeout time.Duration
	// AgreementWait is how long an unplanned failover waits for the routing
	// layer to agree the source is down (its health checks may trail the
	// alarm by a check interval) before refusing.
	AgreementWait time.Duration
	Now           func() time.Time
}

// Request asks for a failover.
type Request struct {
	From, To string
	Reason   string
	// Planned: stop writes at From, wait for replication to drain, then
	// switch (zero acknowledged writes lost). Used for failback.
	Planned bool
	// Force skips the routing-view guard (an operator's manual failover).
	Force bool
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
	// OutcomePlan: a dry run's plan.
	OutcomePlan Outcome = "plan"
)

// Result reports a run.
type Result struct {
	Outcome Outcome         `json:"outcome"`
	From    string          `json:"from"`
	To      string          `json:"to"`
	Epoch   int64           `json:"epoch"`
	Reason  string          `json:"reason,omitempty"`
	Fenced  bool            `json:"fenced"`  // the old region's fence landed
	Promote bool            `json:"promote"` // this call won the compare-and-set
	Journal []control.Entry `json:"journal,omitempty"`
	Plan    []string        `json:"plan,omitempty"`
}

// GuardError is a refused failover, with what would let it proceed.
type GuardError struct {
	Guard string
	Msg   string
}

func (e *GuardError) Error() string { return e.Guard + ": " + e.Msg }

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Controller) store(region string) (*control.Store, error) {
	s, ok := c.Stores[region]
	if !ok {
		return nil, fmt.Errorf("no control table configured for region %q", region)
	}
	return s, nil
}

// fenceFlag names the flag row remembering a fence that has not landed.
const fenceFlag = "fence-pending"

// Run executes (or resumes) a failover from req.From to req.To. Re-invoking
// with the same request resumes from the journal and reaches the same end.
func (c *Controller) Run(ctx context.Context, req Request) (Result, error) {
	res := Result{From: req.From, To: req.To}
	if req.From == req.To || req.From == "" || req.To == "" {
		return res, fmt.Errorf("failover needs two different regions, got %q and %q", req.From, req.To)
	}
	src, err := c.store(req.From)
	if err != nil {
		return res, err
	}
	dst, err := c.store(req.To)
	if err != nil {
		return res, err
	}
	cur, err := dst.Active(ctx)
	if err != nil {
		return res, err
	}
	epoch := cur.Epoch + 1
	if cur.Region == req.To {
		// Promoted already: finish a run that stopped after promotion, or
		// report that there is nothing to do.
		journal, err := dst.Run(ctx, cur.Epoch)
		if err != nil {
			return res, err
		}
		if len(journal) == 0 || journal[len(journal)-1].Phase == control.Completed {
			res.Outcome, res.Epoch, res.Journal = OutcomeAlreadyActive, cur.Epoch, journal
			return res, nil
		}
		epoch = cur.Epoch
	}
	res.Epoch = epoch
	journal, err := dst.Run(ctx, epoch)
	if err != nil {
		return res, err
	}
	done := map[control.Phase]bool{}
	for _, e := range journal {
		done[e.Phase] = true
	}
	if req.DryRun {
		res.Outcome = OutcomePlan
		res.Plan = c.plan(ctx, req, cur, epoch, done)
		return res, nil
	}
	record := func(p control.Phase, detail string) error {
		e := control.Entry{Epoch: epoch, Phase: p, At: c.now().UTC(), From: req.From, To: req.To, Detail: detail}
		wrote, err := dst.Record(ctx, e)
		if err != nil {
			return err
		}
		if wrote && c.Notify != nil {
			_ = c.Notify.Notify(ctx, e)
		}
		return nil
	}
	kind := "unplanned"
	if req.Planned {
		kind = "planned"
	}
	if err := record(control.Detected, kind+": "+req.Reason); err != nil {
		return res, err
	}
	if !done[control.Decided] {
		if err := c.guards(ctx, req, cur); err != nil {
			res.Outcome, res.Reason = OutcomeRefused, err.Error()
			if ferr := dst.Forget(ctx, epoch, control.Detected); ferr != nil {
				return res, errors.Join(err, ferr)
			}
			if c.Notify != nil {
				_ = c.Notify.Notify(ctx, control.Entry{Epoch: epoch, Phase: control.Detected, At: c.now().UTC(), From: req.From, To: req.To, Detail: "refused: " + err.Error()})
			}
			return res, err
		}
		if err := record(control.Decided, "guards passed"); err != nil {
			return res, err
		}
	}
	if !done[control.Fenced] {
		detail, err := c.fence(ctx, req, src, dst, epoch)
		if err != nil {
			return res, err
		}
		res.Fenced = !strings.HasPrefix(detail, "pending")
		if err := record(control.Fenced, detail); err != nil {
			return res, err
		}
	} else {
		res.Fenced = true
	}
	if !done[control.Promoted] {
		won, err := c.promote(ctx, dst, cur, req.To, epoch)
		if err != nil {
			return res, err
		}
		res.Promote = won
		if err := record(control.Promoted, fmt.Sprintf("%s active at epoch %d", req.To, epoch)); err != nil {
			return res, err
		}
	}
	if !done[control.Verified] {
		if err := c.verify(ctx, req.To, epoch); err != nil {
			return res, fmt.Errorf("verify %s: %w (re-run to resume)", req.To, err)
		}
		if err := record(control.Verified, "accepts writes"); err != nil {
			return res, err
		}
	}
	if err := record(control.Completed, ""); err != nil {
		return res, err
	}
	res.Outcome = OutcomeCompleted
	res.Journal, err = dst.Run(ctx, epoch)
	return res, err
}

func (c *Controller) guards(ctx context.Context, req Request, cur control.Active) error {
	if cur.Region != req.From {
		return &GuardError{"source", fmt.Sprintf("%s is not the active region (%s is, at epoch %d)", req.From, cur.Region, cur.Epoch)}
	}
	if c.MinDwell > 0 && !cur.Since.IsZero() && c.now().Sub(cur.Since) < c.MinDwell {
		return &GuardError{"dwell", fmt.Sprintf("last switch was %s ago; wait until %s have passed (against flapping)", c.now().Sub(cur.Since).Round(time.Second), c.MinDwell)}
	}
	if c.Probe != nil {
		if err := c.Probe.Probe(ctx, req.To); err != nil {
			return &GuardError{"target-health", fmt.Sprintf("%s is not healthy itself (%v): failing over there would not help", req.To, err)}
		}
	}
	if req.Planned {
		if c.Probe != nil {
			if err := c.Probe.Probe(ctx, req.From); err != nil {
				return &GuardError{"source-health", fmt.Sprintf("planned failover needs %s reachable to stop its writes (%v); use an unplanned failover", req.From, err)}
			}
		}
		return nil
	}
	if req.Force {
		return nil
	}
	if c.Routing == nil {
		return &GuardError{"second-opinion", "no routing view is configured: only a forced failover can proceed"}
	}
	deadline := c.now().Add(c.AgreementWait)
	for {
		healthy, err := c.Routing.Healthy(ctx, req.From)
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

// fence raises the source's epoch so it stops accepting writes. Unplanned:
// best effort within FenceTimeout, remembered and retried by Reconcile.
// Planned: it must land, then replication must drain.
func (c *Controller) fence(ctx context.Context, req Request, src, dst *control.Store, epoch int64) (string, error) {
	next := control.Active{Region: req.To, Epoch: epoch, Since: c.now().UTC()}
	timeout := c.FenceTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	err := src.Raise(fctx, next)
	cancel()
	if req.Planned {
		if err != nil {
			return "", fmt.Errorf("stop writes in %s: %w", req.From, err)
		}
		if c.Drain != nil {
			if err := c.Drain.Drain(ctx, req.From, req.To); err != nil {
				return "", fmt.Errorf("wait for replication %s → %s: %w", req.From, req.To, err)
			}
		}
		return "writes stopped in " + req.From + "; replication drained", nil
	}
	if err != nil {
		if ferr := dst.SetFlag(ctx, fenceFlag, req.From+"@"+strconv.FormatInt(epoch, 10)); ferr != nil {
			return "", ferr
		}
		return fmt.Sprintf("pending: %s unreachable (%v); retried until it lands", req.From, err), nil
	}
	return "fenced " + req.From, nil
}

func (c *Controller) promote(ctx context.Context, dst *control.Store, cur control.Active, to string, epoch int64) (bool, error) {
	if cur.Region == to && cur.Epoch == epoch {
		return false, nil // resumed after promotion
	}
	err := dst.CompareAndSet(ctx, cur.Epoch, control.Active{Region: to, Epoch: epoch, Since: c.now().UTC()})
	if errors.Is(err, control.ErrConflict) {
		now, rerr := dst.Active(ctx)
		if rerr == nil && now.Region == to && now.Epoch == epoch {
			return false, nil // another controller promoted the same run
		}
		return false, fmt.Errorf("promote %s: the control record moved to %s at epoch %d meanwhile", to, now.Region, now.Epoch)
	}
	return err == nil, err
}

func (c *Controller) verify(ctx context.Context, to string, epoch int64) error {
	if c.Verifier == nil {
		return nil
	}
	timeout := c.VerifyTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	for {
		if err = c.Verifier(ctx, to, epoch); err == nil {
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
	timeout := c.FenceTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	err = src.Raise(fctx, control.Active{Region: region, Epoch: epoch, Since: c.now().UTC()})
	cancel()
	if err != nil {
		return false, nil // still unreachable; next time
	}
	if err := home.ClearFlag(ctx, fenceFlag); err != nil {
		return true, err
	}
	if c.Notify != nil {
		_ = c.Notify.Notify(ctx, control.Entry{Epoch: epoch, Phase: control.Fenced, At: c.now().UTC(), From: from, To: region, Detail: "fence landed in " + from + " after it returned"})
	}
	return true, nil
}

func (c *Controller) plan(ctx context.Context, req Request, cur control.Active, epoch int64, done map[control.Phase]bool) []string {
	var p []string
	if err := c.guards(ctx, req, cur); err != nil && !done[control.Decided] {
		p = append(p, "REFUSED: "+err.Error())
		return p
	}
	if req.Planned {
		p = append(p, fmt.Sprintf("stop writes in %s (raise its epoch to %d)", req.From, epoch), fmt.Sprintf("wait until replication %s → %s has drained", req.From, req.To))
	} else {
		p = append(p, fmt.Sprintf("fence %s at epoch %d (best effort, retried until it lands)", req.From, epoch))
	}
	p = append(p, fmt.Sprintf("promote %s: active record → {%s, epoch %d}", req.To, req.To, epoch), "verify that "+req.To+" accepts writes")
	return p
}
