package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/deploy"

	"github.com/pilotlight/pilotlight/internal/drill"
	"github.com/pilotlight/pilotlight/internal/readiness"
)

func newCheckCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "check",
		Short: "Readiness: would a failover work right now?",
		Long: `Check, region against region, what a failover needs: the control records
(the witness's too) present and agreeing, a region holding a live write
lease, the protected table the same in both regions with its stream on,
every bucket versioned, replication running and within the RPO objective,
the last drill passed and recent, a recent complete backup. Each line says
PASS, WARN or FAIL, with the fix. Exit status 1 when a check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			t, err := resolveTarget(g, cmd)
			if err != nil {
				return err
			}
			fc, err := t.controller()
			if err != nil {
				return err
			}
			in := readiness.Input{Primary: t.primary, DR: t.dr, Witness: fc.Witness, Names: t.names, Clients: t.clients,
				Stores: fc.Stores, Lease: fc.LeaseConfig(), RPOObjective: s.RPOObjective, RTOObjective: s.RTOObjective,
				History: drill.History{Dir: s.ReportsDir}}
			if t.lab != nil {
				if st, err := t.lab.ReplicationStatus(cmd.Context()); err == nil && st.Functions != nil {
					fo := st.Functions
					in.DetectionFloor = time.Duration(fo.AlarmPeriods)*fo.HealthInterval + fo.RouteTTL
				}
				in.Replication = func(ctx context.Context) (readiness.Replication, error) {
					st, err := t.lab.ReplicationStatus(ctx)
					if err != nil {
						return readiness.Replication{}, err
					}
					r := readiness.Replication{Paused: st.Paused}
					for _, d := range st.Replication {
						if d.Kind == "table" && d.Enabled {
							r.OldestPending = max(r.OldestPending, time.Duration(d.OldestPendingMs)*time.Millisecond)
						}
					}
					return r, nil
				}
			}
			if t.aws != nil {
				p := planFor(s, t.aws.account, "free", "", "", "", false)
				cp := &readiness.ControlPlane{AlarmList: p.Alarms(), Rules: map[string]readiness.RuleDescriber{}, Schedules: map[string][]string{},
					Alarms: cloudwatch.NewFromConfig(t.aws.cfg, func(o *cloudwatch.Options) { o.Region = p.DR }), Credentials: t.aws.cfg.Credentials}
				cp.Functions = map[string]readiness.FunctionReader{}
				for _, r := range []string{p.Primary, p.DR} {
					cp.Rules[r] = eventbridge.NewFromConfig(t.aws.cfg, func(o *eventbridge.Options) { o.Region = r })
					cp.Schedules[r] = deploy.Schedules(p, r)
					cp.Functions[r] = lambda.NewFromConfig(t.aws.cfg, func(o *lambda.Options) { o.Region = r })
				}
				for _, fn := range []string{"app", "healthcheck", "backupmanager"} {
					cp.InBoth = append(cp.InBoth, p.Names.Function(fn))
				}
				in.AWS = cp
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			rep := readiness.Run(ctx, in)
			if jsonOut {
				if err := writeJSON(g.io.Out, rep); err != nil {
					return err
				}
			} else {
				printCheck(g.io.Out, rep)
			}
			if !rep.Ready {
				return exitError(1)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the checks as JSON")
	return c
}

// printCheck writes a readiness report: one line per check, the fix under
// each that did not pass, and the verdict.
func printCheck(out io.Writer, rep readiness.Report) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Status, r.Check, r.Detail)
		if r.Fix != "" && r.Status != readiness.Pass {
			fmt.Fprintf(w, "\t\tfix: %s\n", r.Fix)
		}
	}
	w.Flush()
	if rep.Ready {
		fmt.Fprintln(out, "\nready")
	} else {
		fmt.Fprintln(out, "\nNOT READY")
	}
}
