package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/lab"
)

// controllerFor resolves settings, connects to the lab or AWS and builds
// the failover controller an operator's command drives.
func controllerFor(g *globals, cmd *cobra.Command) (*target, *failover.Controller, error) {
	t, err := resolveTarget(g, cmd)
	if err != nil {
		return nil, nil, err
	}
	fc, err := t.controller()
	return t, fc, err
}

func newFailoverCmd(g *globals) *cobra.Command {
	var planned, dryRun, yes, jsonOut bool
	c := &cobra.Command{
		Use:   "failover",
		Short: "Fail over to the other region now (an operator's decision)",
		Long: `Make the region that is not active take over.

Unplanned (the default) is for when the active region is failing: it fences
the active region as best it can (retried until it lands), promotes the other,
and verifies it accepts writes. The routing-layer guard is skipped: you are
the second opinion.

--planned is for when both regions are healthy (maintenance, failback): it
stops writes in the active region, waits until replication has drained, then
switches, so no acknowledged write is lost.

Every phase is journaled in the target's control table; re-running resumes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, fc, err := controllerFor(g, cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Minute)
			defer cancel()
			a, err := fc.Stores[cl.dr].Active(ctx)
			if err != nil {
				return err
			}
			from, to := cl.primary, cl.dr
			if a.Region == cl.dr {
				from, to = to, from
			}
			return runFailover(ctx, g, cl, fc, failover.Request{From: from, To: to, Planned: planned, Force: true, DryRun: dryRun, Reason: "operator: pilotlight failover"}, yes, jsonOut)
		},
	}
	c.Flags().BoolVar(&planned, "planned", false, "stop writes, wait for replication to drain, then switch (zero loss)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and the guards' verdict; change nothing")
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	return c
}

func newFailbackCmd(g *globals) *cobra.Command {
	var dryRun, yes, jsonOut bool
	c := &cobra.Command{
		Use:   "failback",
		Short: "Return to the primary region: a planned failover with zero writes lost",
		Long: `Fail back from the DR region to the primary once the primary is healthy again:
turn on DR → primary object replication, stop writes in the DR region, wait
until replication has drained (table canary and object backlog), promote the
primary, verify. Writes are refused (503) during the switch, never lost.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, fc, err := controllerFor(g, cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Minute)
			defer cancel()
			if !dryRun {
				if err := cl.setFailbackReplication(true); err != nil {
					return err
				}
				defer cl.setFailbackReplication(false)
			}
			return runFailover(ctx, g, cl, fc, failover.Request{From: cl.dr, To: cl.primary, Planned: true, DryRun: dryRun, Reason: "operator: pilotlight failback"}, yes, jsonOut)
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan; change nothing")
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	return c
}

func runFailover(ctx context.Context, g *globals, cl *target, fc *failover.Controller, req failover.Request, yes, jsonOut bool) error {
	if !req.DryRun && !yes {
		if !isTerminal(g.io.In) {
			return fmt.Errorf("refusing to fail over %s → %s without confirmation: pass --yes (or --dry-run to see the plan)", req.From, req.To)
		}
		kind := "UNPLANNED"
		if req.Planned {
			kind = "planned"
		}
		fmt.Fprintf(g.io.Err, "%s failover %s → %s. Proceed? [y/N] ", kind, req.From, req.To)
		var answer string
		fmt.Fscanln(g.io.In, &answer)
		if answer != "y" && answer != "yes" {
			return errors.New("cancelled")
		}
	}
	res, err := fc.Run(ctx, req)
	if jsonOut {
		if werr := writeJSON(g.io.Out, res); werr != nil {
			return werr
		}
		return err
	}
	switch res.Outcome {
	case failover.OutcomePlan:
		fmt.Fprintf(g.io.Out, "plan (%s → %s, epoch %d):\n", req.From, req.To, res.Epoch)
		for i, p := range res.Plan {
			fmt.Fprintf(g.io.Out, "  %d. %s\n", i+1, p)
		}
	case failover.OutcomeAlreadyActive:
		fmt.Fprintf(g.io.Out, "%s is already active at epoch %d: nothing to do\n", req.To, res.Epoch)
	default:
		printJournal(g, res.Journal)
	}
	if err != nil {
		return err
	}
	if res.Outcome == failover.OutcomeCompleted {
		fmt.Fprintf(g.io.Out, "\n%s is active at epoch %d.", req.To, res.Epoch)
		if !res.Fenced {
			fmt.Fprintf(g.io.Out, " %s could not be fenced yet; the controller retries until it lands.", req.From)
		}
		fmt.Fprintln(g.io.Out)
	}
	return nil
}

func printJournal(g *globals, j []control.Entry) {
	if len(j) == 0 {
		return
	}
	w := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PHASE\tAT\t+\tDETAIL")
	start := j[0].At
	for _, e := range j {
		fmt.Fprintf(w, "%s\t%s\t%.3fs\t%s\n", e.Phase, e.At.Local().Format("15:04:05.000"), e.At.Sub(start).Seconds(), e.Detail)
	}
	w.Flush()
}

func newStatusCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Active region, epoch, health and replication lag of both regions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, fc, err := controllerFor(g, cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			type regionStatus struct {
				Region  string          `json:"region"`
				Role    string          `json:"role"`
				Record  *control.Active `json:"record,omitempty"`
				Error   string          `json:"error,omitempty"`
				Routing *bool           `json:"routing_healthy,omitempty"`
			}
			var st lab.Status
			if cl.lab != nil {
				if st, err = cl.lab.Status(ctx); err != nil {
					return err
				}
			}
			var out struct {
				Active      string                `json:"active_region"`
				Epoch       int64                 `json:"epoch"`
				Regions     []regionStatus        `json:"regions"`
				Answer      string                `json:"routing_answer,omitempty"`
				Replication []lab.DirectionStatus `json:"replication"`
			}
			for _, r := range []string{cl.primary, cl.dr} {
				rs := regionStatus{Region: r, Role: "primary"}
				if r == cl.dr {
					rs.Role = "dr"
				}
				a, err := fc.Stores[r].Active(ctx)
				if err != nil {
					rs.Error = err.Error()
				} else {
					rs.Record = &a
					if a.Epoch > out.Epoch {
						out.Active, out.Epoch = a.Region, a.Epoch
					}
				}
				if st.Routing != nil {
					h := st.Routing.Regions[r].Healthy
					rs.Routing = &h
				}
				out.Regions = append(out.Regions, rs)
			}
			if st.Routing != nil {
				out.Answer = st.Routing.Answer
			}
			out.Replication = st.Replication
			if jsonOut {
				return writeJSON(g.io.Out, out)
			}
			fmt.Fprintf(g.io.Out, "active region: %s (epoch %d); clients routed to %s\n\n", out.Active, out.Epoch, out.Answer)
			w := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "REGION\tROLE\tRECORD\tROUTING")
			for _, r := range out.Regions {
				rec := r.Error
				if r.Record != nil {
					rec = fmt.Sprintf("%s @ epoch %d", r.Record.Region, r.Record.Epoch)
				}
				routing := "-"
				if r.Routing != nil {
					routing = map[bool]string{true: "healthy", false: "UNHEALTHY"}[*r.Routing]
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Region, r.Role, rec, routing)
			}
			w.Flush()
			if cl.lab != nil {
				fmt.Fprintln(g.io.Out)
				printStatus(g.io.Out, cl.lab.State, st)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print as JSON")
	return c
}

func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
