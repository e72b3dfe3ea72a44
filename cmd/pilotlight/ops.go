package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/lab/remote"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target"
	"github.com/pilotlight/pilotlight/internal/target/labtarget"
)

// controllerFor resolves settings, connects to the lab or AWS and builds
// the failover controller an operator's command drives.
func controllerFor(g *globals, cmd *cobra.Command) (target.Target, *failover.Controller, error) {
	t, err := resolveTarget(g, cmd)
	if err != nil {
		return nil, nil, err
	}
	fc, err := t.Controller(cmd.Context())
	return t, fc, err
}

func newFailoverCmd(g *globals) *cobra.Command {
	var planned, dryRun, yes, jsonOut, force, withoutWitness bool
	var toRegion string
	c := &cobra.Command{
		Use:   "failover",
		Short: "Fail over to the other region now (an operator's decision)",
		Long: `Make a region take over (--to REGION; default: the region that is not active).

Unplanned (the default) is for when the active region is failing: it claims
the write lease for the target on a majority of the control records (its own,
the old region's and the witness's), which succeeds once the old region's
lease has run out; it fences the old region's own record as best it can
(retried until it lands) and verifies the target accepts writes. The
routing-layer guard is skipped: you are the second opinion.

--force takes over even while the old region still holds its lease (a
partition): the old region stops acknowledging at its lease's end, and the
target waits a whole term plus the clock and write margins before its first
write, so the two never overlap.

--without-witness claims on the two regions' records alone, for when the
primary and the witness are down together: best effort, say so in your
incident notes.

--planned is for when both regions are healthy (maintenance, failback): it
stops writes in the active region, waits until replication has drained, then
switches, so no acknowledged write is lost. If the drain cannot finish, the
active region gets its writes back.

Every phase is journaled in the target's control table; re-running resumes.`,
		Example: `  pilotlight failover --dry-run
  pilotlight failover --to us-west-2 --yes
  pilotlight failover --to us-east-1 --planned --yes
  pilotlight failover --force --yes          # partition: take over anyway`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, fc, err := controllerFor(g, cmd)
			if err != nil {
				return err
			}
			if toRegion != "" && toRegion != cl.Primary() && toRegion != cl.DR() {
				return fmt.Errorf("--to %s: not one of this deployment's regions (%s, %s)", toRegion, cl.Primary(), cl.DR())
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Minute)
			defer cancel()
			view, _ := fc.View(ctx, cl.Primary(), cl.DR())
			to := toRegion
			if to == "" {
				to = cl.DR()
				if view.Active.Region == cl.DR() {
					to = cl.Primary()
				}
			}
			from := cl.Primary()
			if to == cl.Primary() {
				from = cl.DR()
			}
			return runFailover(ctx, g, cl, fc, failover.Request{From: from, To: to, Planned: planned, Operator: true, Force: force,
				WithoutWitness: withoutWitness, DryRun: dryRun, Reason: "operator: pilotlight failover"}, yes, jsonOut)
		},
	}
	c.Flags().StringVar(&toRegion, "to", "", "the region to make active (default: the one that is not)")
	c.Flags().BoolVar(&force, "force", false, "take over even while the old region holds its lease (waits it out)")
	c.Flags().BoolVar(&withoutWitness, "without-witness", false, "claim on the two regions' records only (primary and witness both down; best effort)")
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
				if err := cl.FailbackReplication(ctx, true); err != nil {
					return err
				}
				defer cl.FailbackReplication(context.WithoutCancel(ctx), false)
			}
			return runFailover(ctx, g, cl, fc, failover.Request{From: cl.DR(), To: cl.Primary(), Planned: true, DryRun: dryRun, Reason: "operator: pilotlight failback"}, yes, jsonOut)
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan; change nothing")
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	return c
}

func runFailover(ctx context.Context, g *globals, cl target.Target, fc *failover.Controller, req failover.Request, yes, jsonOut bool) error {
	if !req.DryRun {
		kind := "UNPLANNED"
		if req.Planned {
			kind = "planned"
		}
		if err := confirm(g, yes, fmt.Sprintf("%s failover %s → %s", kind, req.From, req.To), "pass --yes (or --dry-run to see the plan)"); err != nil {
			return err
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

func printJournal(g *globals, j []record.Entry) {
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
	var watch time.Duration
	once := func(cmd *cobra.Command) error {
		cl, fc, err := controllerFor(g, cmd)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		defer cancel()
		s, err := g.settings(cmd)
		if err != nil {
			return err
		}
		out, unreadable, verr, err := collectStatus(ctx, cl, fc, s.ProtectDir)
		if err != nil {
			return err
		}
		now := time.Now()
		if jsonOut {
			if err := writeJSON(g.io.Out, out); err != nil {
				return err
			}
			if unreadable > 0 || verr != nil {
				return exitError(1)
			}
			return nil
		}
		printStatusDoc(g.io.Out, out, now)
		if l, ok := cl.(labOperator); ok { // the lab's own servers and faults
			st, err := l.Client().Status(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.io.Out)
			printStatus(g.io.Out, l.Client().State, st)
		}
		if unreadable > 0 || verr != nil {
			return exitError(1)
		}
		return nil
	}
	c := &cobra.Command{
		Use:   "status",
		Short: "Active region, epoch, health and replication lag of both regions",
		Long: `Show which region accepts writes (or, loudly, that none does), each control
record and lease, the witness, routing and replication. Exit status 1 when a
region's record cannot be read.

--watch 1s shows it again every second until interrupted (with --json, one
JSON document per line).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watch <= 0 {
				return once(cmd)
			}
			tty := isTerminal(g.io.Out)
			for {
				if tty && !jsonOut {
					fmt.Fprint(g.io.Out, "\033[H\033[2J")
				}
				if !jsonOut {
					fmt.Fprintf(g.io.Out, "%s (every %s; Ctrl-C stops)\n\n", time.Now().Format("15:04:05"), watch)
				}
				if err := once(cmd); err != nil && !errors.As(err, new(exitError)) {
					fmt.Fprintln(g.io.Err, "error:", err)
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(watch):
				}
			}
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print as JSON")
	c.Flags().DurationVar(&watch, "watch", 0, "show the status again every interval, e.g. 1s, until interrupted")
	return c
}

// printStatusDoc writes the status: who accepts writes (or, loudly, that
// nobody does), the witness mode, and one line per region.
func printStatusDoc(out io.Writer, doc statusDoc, now time.Time) {
	switch {
	case len(doc.Writable) == 0:
		fmt.Fprintf(out, "NO REGION ACCEPTS WRITES (control records: %s at epoch %d)\n", orNone(doc.Active), doc.Epoch)
	default:
		fmt.Fprintf(out, "writes accepted by: %s (epoch %d)", strings.Join(doc.Writable, ", "), doc.Epoch)
		if doc.Answer != "" {
			fmt.Fprintf(out, "; clients routed to %s", doc.Answer)
		}
		fmt.Fprintln(out)
	}
	if doc.Witness == "" {
		fmt.Fprintln(out, "no witness region: split-brain protection is best effort (PILOTLIGHT_WITNESS_REGION=none)")
	}
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tROLE\tRECORD\tLEASE\tWRITES\tROUTING")
	for _, r := range doc.Regions {
		rec := r.Error
		if r.Record != nil {
			rec = fmt.Sprintf("%s @ epoch %d", r.Record.Region, r.Record.Epoch)
			if r.Record.Hold != "" {
				rec += " (held: " + r.Record.Hold + ")"
			}
		}
		lease, writes := "-", "-"
		if r.Lease != nil && r.Lease.Epoch > 0 {
			lease = fmt.Sprintf("epoch %d, %s", r.Lease.Epoch, leaseLeft(r.Lease.Until, now))
		}
		if r.Role != "witness" {
			writes = "yes"
			if !r.Writes {
				writes = "no"
				if r.Why != "" {
					writes += " (" + r.Why + ")"
				}
			}
		}
		routing := "-"
		if r.Routing != nil {
			routing = map[bool]string{true: "healthy", false: "UNHEALTHY"}[*r.Routing]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Region, r.Role, rec, lease, writes, routing)
	}
	w.Flush()
	if len(doc.Protected) > 0 {
		fmt.Fprintln(out)
		for _, a := range doc.Protected {
			fmt.Fprintf(out, "protected: %s (%s) — tables %s; buckets %s; functions %s\n", a.App, a.Tier, listOrNone(a.Tables), listOrNone(a.Buckets), listOrNone(a.Functions))
		}
		fmt.Fprintln(out, "(pilotlight check verifies their copies in the DR region)")
	}
	if h := doc.Health; h != nil {
		fmt.Fprintln(out)
		reading := func(r *metrics.Reading, what func(float64) string) string {
			if r == nil {
				return "no datapoint in the last 10 minutes (is the health-check schedule on?)"
			}
			return fmt.Sprintf("%s at %s", what(r.Value), r.At.Local().Format("15:04:05"))
		}
		fmt.Fprintf(out, "health check in the DR region: the primary is %s\n", reading(h.PrimaryHealthy, func(v float64) string {
			return map[bool]string{true: "healthy", false: "UNHEALTHY"}[v >= 1]
		}))
		fmt.Fprintf(out, "replication lag: %s\n", reading(h.ReplicationLagMs, func(v float64) string { return fmt.Sprintf("%.0f ms", v) }))
		if h.Error != "" {
			fmt.Fprintf(out, "CloudWatch: %s\n", h.Error)
		}
	}
}

// statusRegion is one region's line of `status`: its control record, and
// what the target observes of it.
type statusRegion struct {
	failover.RecordView
	Routing *bool `json:"routing_healthy,omitempty"`
	// Servers and Faults: the lab's servers behind the region (service ->
	// answers) and the faults injected into it.
	Servers map[string]bool `json:"servers,omitempty"`
	Faults  []string        `json:"faults,omitempty"`
}

// statusDoc is what `status --json` prints and the dashboard shows.
type statusDoc struct {
	// Active is the holder of the highest epoch on a majority of the
	// control records ("" when no epoch has one).
	Active      string                     `json:"active_region"`
	Epoch       int64                      `json:"epoch"`
	Writable    []string                   `json:"writable_regions"`
	Witness     string                     `json:"witness,omitempty"`
	Regions     []statusRegion             `json:"regions"`
	Answer      string                     `json:"routing_answer,omitempty"`
	Replication []region.ReplicationStatus `json:"replication"`
	// Health is, on AWS, what the DR region's health check last reported to
	// CloudWatch (the lab shows its replicators instead).
	Health *target.Health `json:"health,omitempty"`
	// Protected are the applications protect apply adopted on this
	// deployment.
	Protected []protectedApp `json:"protected,omitempty"`
}

// protectedApp is one application protect apply adopted: its tier and
// what it replicates and copies.
type protectedApp struct {
	App       string   `json:"app"`
	Tier      string   `json:"tier"`
	Tables    []string `json:"tables,omitempty"`
	Buckets   []string `json:"buckets,omitempty"`
	Functions []string `json:"functions,omitempty"`
}

func protectedApps(dir, primary, dr string) ([]protectedApp, error) {
	plans, err := protect.Applied(dir, primary, dr)
	if err != nil {
		return nil, err
	}
	var out []protectedApp
	for _, p := range plans {
		out = append(out, protectedApp{App: p.App, Tier: string(p.Tier),
			Tables: p.Inventory.TableNames(), Buckets: p.Inventory.BucketNames(), Functions: p.Inventory.FunctionNames()})
	}
	return out, nil
}

// collectStatus reads the control records and leases, and what the target
// observes besides (routing, servers, faults, replication, health
// metrics). unreadable counts regions whose record could not be read;
// verr is the quorum read's error.
func collectStatus(ctx context.Context, cl target.Target, fc *failover.Controller, protectDir string) (out statusDoc, unreadable int, verr error, err error) {
	obs, err := cl.Observe(ctx)
	if err != nil {
		return out, 0, nil, err
	}
	if out.Protected, err = protectedApps(protectDir, cl.Primary(), cl.DR()); err != nil {
		return out, 0, nil, err
	}
	ov := fc.Overview(ctx, cl.Primary(), cl.DR())
	out.Active, out.Epoch, out.Witness, out.Writable = ov.Active, ov.Epoch, ov.Witness, ov.Writable
	for _, rv := range ov.Records {
		rs := statusRegion{RecordView: rv, Servers: obs.Servers[rv.Region], Faults: obs.Faults[rv.Region]}
		if h, ok := obs.Routing[rv.Region]; ok && rv.Region != ov.Witness {
			rs.Routing = &h
		}
		out.Regions = append(out.Regions, rs)
	}
	out.Answer, out.Replication, out.Health = obs.Answer, obs.Replication, obs.Health
	return out, ov.Unreadable, ov.Err, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func leaseLeft(until, now time.Time) string {
	if d := until.Sub(now); d > 0 {
		return "valid " + d.Round(10*time.Millisecond).String()
	}
	return "expired " + now.Sub(until).Round(time.Second).String() + " ago"
}

func orNone(r string) string {
	if r == "" {
		return "no majority"
	}
	return r
}

func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// confirm asks before a command changes something that cannot be undone:
// on a terminal, y or yes proceeds; elsewhere (a script, a cron job) the
// command refuses unless --yes was given, and says how.
func confirm(g *globals, yes bool, what, how string) error {
	if yes {
		return nil
	}
	if !isTerminal(g.io.In) {
		return codedError{2, fmt.Errorf("refusing without confirmation: %s; %s", what, how)}
	}
	fmt.Fprintf(g.io.Err, "%s. Proceed? [y/N] ", what)
	var answer string
	fmt.Fscanln(g.io.In, &answer)
	if answer != "y" && answer != "yes" {
		return codedError{2, errors.New("cancelled")}
	}
	return nil
}

// labOperator is a target whose own servers and faults status prints (the
// lab): checked here, once.
type labOperator interface{ Client() *remote.Client }

var _ labOperator = (*labtarget.Lab)(nil)
