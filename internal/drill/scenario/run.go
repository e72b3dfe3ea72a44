// Package scenario owns what a drill does: the table of scenarios (the
// region outage, no fault, and the chaos matrix: each injects the fault
// that would break one of pilotlight's promises and asserts its expected
// outcome), the schedules the lease protocol must survive, `drill --help`'s
// list of them, and Run, which runs one on a target.
//
// It must not measure or audit a drill itself: package drill runs the
// workload, the failover and the failback, and checks every acknowledged
// write, whatever the scenario.
package scenario

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pilotlight/pilotlight/internal/clock"
	"github.com/pilotlight/pilotlight/internal/drill"
	"github.com/pilotlight/pilotlight/internal/drill/report"
)

const (
	// RegionOutage cuts the primary region off entirely, lets detection and
	// failover happen on their own, heals it, and fails back (planned).
	RegionOutage report.Scenario = "region-outage"
	// NoFault runs the workload with no fault: no failover may happen and
	// every write must replicate.
	NoFault report.Scenario = "no-fault"
)

// AppScenarios are the scenarios that run on a protected application; the
// others drive the orders service's own machinery (its function, its
// attachments, its conflicting writes).
var AppScenarios = []report.Scenario{RegionOutage, NoFault}

// ErrUnknownScenario is a scenario that is not one of Scenarios.
var ErrUnknownScenario = errors.New("unknown scenario")

// Check says what is wrong with the options, naming the fix: an unknown
// scenario, a rate or a client count out of range, a scenario a protected
// application cannot run.
func Check(o drill.Options) error {
	if _, ok := lookup(o.Scenario); !ok {
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

// Run runs a drill of opts.Scenario and returns its report. The error is
// for drills that could not run; a drill that ran and failed its checks
// returns a report with Pass false.
func Run(ctx context.Context, env drill.Env, opts drill.Options) (*report.Report, error) {
	if err := Check(opts); err != nil {
		return nil, err
	}
	sc, _ := lookup(opts.Scenario) // Check found it
	if opts.Scenario == Load {
		opts.Rate = max(opts.Rate, cmp.Or(opts.LoadRate, LoadRate))
		opts.Concurrency = max(opts.Concurrency, opts.Rate/6)
	}
	d, err := drill.New(ctx, env, opts)
	if err != nil {
		return nil, err
	}
	d.Report.Expected, d.RTOBudget = sc.expected, sc.rtoBudget
	if a := opts.App; a != nil && !a.Guarded() && sc.name == RegionOutage {
		d.Report.Expected = "failover; split brain and failback loss measured, not promised"
	}
	if err := sc.run(scene{d}, ctx); err != nil {
		d.Fail(err.Error())
		// A drill that stopped early must not leave the target broken.
		if rerr := d.Target.Heal(context.WithoutCancel(ctx), ""); rerr != nil {
			d.Fail("restore faults: " + rerr.Error())
		}
	}
	d.Finish(ctx)
	return d.Report, nil
}

// scene is a drill as a scenario drives it: the drill's steps and state,
// and the scenarios' own helpers as methods.
type scene struct{ *drill.Drill }

func (d scene) regionOutage(ctx context.Context) error { return d.Outage(ctx, drill.Hooks{}) }

func (d scene) noFault(ctx context.Context) error {
	d.Say("workload: %d writes/s, %d clients, %s, no fault", d.Options.Rate, d.Options.Concurrency, d.Options.Steady+d.Options.After)
	d.StartWorkload()
	defer d.StopWorkload()
	if err := clock.Sleep(ctx, d.Options.Steady+d.Options.After); err != nil {
		return err
	}
	d.StopWorkload()
	a, err := d.Store(d.DR).Active(ctx)
	if err != nil {
		return err
	}
	if a.Region != d.Primary || a.Epoch != d.EpochBase {
		return fmt.Errorf("a failover happened without a fault: %s active at epoch %d", a.Region, a.Epoch)
	}
	return nil
}
