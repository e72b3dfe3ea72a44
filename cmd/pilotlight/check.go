package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target/awstarget"
	"github.com/pilotlight/pilotlight/internal/target/labtarget"
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
PASS, WARN or FAIL, with the fix. Exit status 1 when a check fails.

Each application protect apply adopted here (PILOTLIGHT_PROTECT_DIR) is
checked too: its tables in both regions alike with their streams on, its
buckets and their replicas versioned, and each function's DR copy with the
function's current code and configuration — a function deployed again
since apply leaves its copy behind until apply runs again.`,
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
			fc, err := t.Controller(cmd.Context())
			if err != nil {
				return err
			}
			in := readiness.Input{Primary: t.Primary(), DR: t.DR(), Witness: fc.Witness(), Names: t.Names(), Clients: t.Clients(),
				Stores: fc.Stores(), Lease: fc.LeaseConfig(), RPOObjective: s.RPOObjective, RTOObjective: s.RTOObjective,
				History: report.History{Dir: s.ReportsDir}}
			in.DetectionFloor, _ = t.DetectionFloor(cmd.Context())
			if in.Apps, err = readinessApps(s.ProtectDir, t); err != nil {
				return err
			}
			if b, ok := t.(backlogger); ok {
				in.Replication = func(ctx context.Context) (readiness.Replication, error) {
					oldest, paused, err := b.Backlog(ctx)
					return readiness.Replication{OldestPending: oldest, Paused: paused}, err
				}
			}
			if a, ok := t.(awsAccount); ok && a.AWSAccount() != nil {
				acct := a.AWSAccount()
				in.AWS = controlPlane(planFor(s, acct.ID, "free", "", "", "", false), acct.Config())
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

// backlogger is a target that can say how far behind replication is (the
// lab's replicators; on AWS the health check's lag metric says it).
type backlogger interface {
	Backlog(ctx context.Context) (oldest time.Duration, paused bool, err error)
}

var _ backlogger = (*labtarget.Lab)(nil)

// awsAccount is a target in an AWS account (AWS): check reads its control
// plane too.
type awsAccount interface{ AWSAccount() *awstarget.Account }

var _ awsAccount = (*awstarget.AWS)(nil)

// controlPlane is what check reads on AWS: the alarms and every schedule.
func controlPlane(p deploy.Plan, cfg aws.Config) *readiness.ControlPlane {
	cp := &readiness.ControlPlane{AlarmList: p.Alarms(), Rules: map[string]readiness.RuleDescriber{}, Schedules: map[string][]string{},
		Alarms: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Region = p.DR }), Credentials: cfg.Credentials,
		Functions: map[string]readiness.FunctionReader{}}
	for _, r := range []string{p.Primary, p.DR} {
		cp.Rules[r] = eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.Region = r })
		cp.Schedules[r] = deploy.Schedules(p, r)
		cp.Functions[r] = lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.Region = r })
	}
	for _, fn := range []string{region.FnApp, region.FnHealth, region.FnBackup} {
		cp.InBoth = append(cp.InBoth, p.Names.Function(fn))
	}
	return cp
}
