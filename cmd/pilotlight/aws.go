package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/deploy/cost"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target/awstarget"
)

// planFor builds the deploy plan from settings and flags. acct may be a
// placeholder for a dry run without credentials.
func planFor(s config.Settings, acct, profile, email, zone, record string, rtc bool) deploy.Plan {
	return deploy.Plan{Names: region.Names{App: s.AppName, Account: acct}, Primary: s.PrimaryRegion, DR: s.DRRegion, Witness: s.WitnessRegion, FailoverMode: s.FailoverMode, RPOObjective: s.RPOObjective,
		Profile: profile, NotificationMail: email, HostedZoneID: zone, RecordName: record, RTC: rtc}
}

func stacksOf(g *globals, a *awstarget.Account) *deploy.Stacks {
	return &deploy.Stacks{Client: a.CloudFormation, Out: g.io.Out}
}

func newDeployCmd(g *globals) *cobra.Command {
	var profile, email, zone, record string
	var rtc, dryRun bool
	c := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the primary and DR regions to AWS (CloudFormation)",
		Long: `Build the functions for Lambda (linux/arm64, zipped reproducibly), upload
them to an artifact bucket per region (created or reused), and deploy the
stacks through change sets, showing stack events as they happen:

  1. <app>-dr       in the DR region: replica and backup buckets, control
                    table, all five functions, the health check, the alarm
                    on the primary wired to the failover controller
  2. <app>-primary  in the primary region: the global table with its DR
                    replica, buckets replicating to the DR region, functions
  3. <app>-dr       again, now with the primary's URL (and replication back)
  4. <app>-global   Route 53 failover records (only with --hosted-zone)

A stack with no changes is fine; a failed one names the resource and the
reason. Run it again after a failure or an interruption: it picks up where
the stacks are. --dry-run shows the plan and the monthly cost of each
detection profile, and needs no credentials.

Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (.env or the
environment), or a named profile (--aws-profile, AWS_PROFILE), or the SDK's
usual chain (SSO, instance roles).`,
		Example: `  pilotlight deploy --dry-run
  pilotlight deploy --primary us-east-1 --dr us-west-2
  pilotlight deploy --detection fast --email ops@example.com
  pilotlight deploy --aws-profile prod-admin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if dryRun {
				acct := "<account>"
				if a, err := awstarget.ConnectAccount(ctx, s); err == nil {
					acct = a.ID
				}
				p := planFor(s, acct, profile, email, zone, record, rtc)
				if err := p.Check(); err != nil {
					return err
				}
				printPlan(g, p)
				return nil
			}
			a, err := awstarget.ConnectAccount(ctx, s)
			if err != nil {
				return err
			}
			p := planFor(s, a.ID, profile, email, zone, record, rtc)
			if err := p.Check(); err != nil {
				return err
			}
			root, err := sourceRoot()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.io.Out, "account %s, primary %s, DR %s, detection profile %s\nbuilding the functions for linux/arm64...\n", a.ID, p.Primary, p.DR, p.Profile)
			arts, err := deploy.Package(ctx, root, "arm64", filepath.Join(root, "dist"))
			if err != nil {
				return err
			}
			d := &deploy.Deployer{Stacks: stacksOf(g, a), S3: a.S3, Out: g.io.Out, Artifacts: arts, Read: os.ReadFile,
				Control: func(r string) deploy.ControlInit {
					c, err := region.New(a.Spec(r, 3))
					if err != nil {
						return failedInit{err}
					}
					return control.New(c, p.Names)
				},
				FirstBackup: a.StartBackup(p.Names), TableExists: a.TableExists}
			out, err := d.Deploy(ctx, p)
			if errors.Is(err, context.Canceled) {
				return errors.New("interrupted: CloudFormation goes on with the stack operation in progress; run `pilotlight deploy` again to wait for it and continue")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.io.Out, "\ndeployed. The orders service:\n  %s  %s (primary)\n  %s  %s (DR)\n", p.Primary, out.AppURLs[p.Primary], p.DR, out.AppURLs[p.DR])
			fmt.Fprintln(g.io.Out, "\nnext: pilotlight --target aws status; pilotlight --target aws drill; pilotlight cleanup")
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&profile, "detection", "free", "detection profile: free (1-minute alarms, standard metrics) or fast (10-second, high-resolution alarm: about $1.70 a month more)")
	f.StringVar(&email, "email", "", "e-mail address for failover notifications (SNS; confirm the subscription)")
	f.StringVar(&zone, "hosted-zone", "", "Route 53 hosted zone ID for failover records (optional)")
	f.StringVar(&record, "record", "", "record name in that zone, e.g. orders.example.com")
	f.BoolVar(&rtc, "rtc", false, "S3 Replication Time Control (15-minute replication SLA, billed per GB)")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and the estimated monthly cost; change nothing")
	return c
}

func printPlan(g *globals, p deploy.Plan) {
	w := g.io.Out
	fmt.Fprintf(w, "plan: %s in %s (primary) and %s (DR), account %s, detection profile %s\n\n", p.Names.App, p.Primary, p.DR, p.Names.Account, p.Profile)
	fmt.Fprintf(w, "  artifact buckets  %s, %s\n", p.ArtifactBucket(p.DR), p.ArtifactBucket(p.Primary))
	for i, st := range p.Stacks() {
		fmt.Fprintf(w, "  %d. stack %-20s %s\n", i+1, st.Name, st.Region)
	}
	fmt.Fprintf(w, "     (then %s again with the primary's URL)\n", p.Names.Stack("dr"))
	fmt.Fprintf(w, "  table %s (global: %s + %s), buckets %s, %s\n", p.Names.Table(), p.Primary, p.DR, p.Names.Bucket(p.Primary), p.Names.Bucket(p.DR))
	if p.HasWitness() {
		fmt.Fprintf(w, "  witness %s: stack %s (a control table only), deployed first; the third control record of the write lease\n\n", p.Witness, p.Names.Stack("witness"))
	} else {
		fmt.Fprintf(w, "  no witness region (--witness none): two-region mode, split-brain protection is best effort (docs/aws.md)\n\n")
	}
	cost.Print(w, p)
}

// sourceRoot finds the pilotlight source tree deploy builds from.
func sourceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/pilotlight/pilotlight\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("deploy builds the functions from source: run it inside the pilotlight source tree (with Go installed)")
		}
		dir = parent
	}
}

func newCleanupCmd(g *globals) *cobra.Command {
	var dryRun, yes bool
	c := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove everything deploy created (stacks, buckets, artifacts)",
		Long: `Remove the deployment: the Route 53 stack; the primary's buckets emptied
(every object version and delete marker) and its stack deleted, which stops
replication; the same in the DR region; then the artifact buckets. It goes
on past a failure so as much as possible is removed, then reports what is
left. --dry-run shows the steps and what exists.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			a, err := awstarget.ConnectAccount(cmd.Context(), s)
			if err != nil {
				return err
			}
			p := planFor(s, a.ID, "free", "", "", "", false)
			if p.Primary == p.DR {
				return p.Check()
			}
			cl := &deploy.Cleaner{Stacks: stacksOf(g, a), S3: a.S3, Out: g.io.Out, Rules: a.Rules}
			steps, err := cl.Steps(cmd.Context(), p)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.io.Out, "cleanup of %s in account %s:\n", p.Names.App, a.ID)
			for i, st := range steps {
				fmt.Fprintf(g.io.Out, "  %2d. %s\n", i+1, st)
			}
			if dryRun {
				return nil
			}
			if !yes {
				if !isTerminal(g.io.In) {
					return errors.New("refusing to delete without confirmation: pass --yes (or --dry-run to see the steps)")
				}
				fmt.Fprint(g.io.Err, "Delete all of this, with its data? [y/N] ")
				var answer string
				fmt.Fscanln(g.io.In, &answer)
				if answer != "y" && answer != "yes" {
					return errors.New("cancelled")
				}
			}
			rep, err := cl.Run(cmd.Context(), p)
			if rep != nil {
				if len(rep.Left) == 0 {
					fmt.Fprintln(g.io.Out, "\nnothing is left.")
				} else {
					fmt.Fprintf(g.io.Out, "\nleft behind:\n  %s\n", strings.Join(rep.Left, "\n  "))
				}
			}
			return err
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "show the steps; delete nothing")
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return c
}

// failedInit reports a client that could not be built when deploy writes
// the first control record.
type failedInit struct{ err error }

func (f failedInit) Init(context.Context, record.Active) (record.Active, error) {
	return record.Active{}, f.err
}
