package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/drill"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/scenario"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/remote"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
)

// drillLong is drill --help: what a drill does, its scenarios (from package scenario's table), the AWS target, --app and the report.
var drillLong = `Run a drill against the lab (started if needed): a workload writes orders
through the front door and logs every acknowledged write; the fault is
injected; detection, the alarm and the failover controller act on their own;
the region is healed and failed back (planned); then every acknowledged write
is checked in both regions, and the data validator compares them.

With --target aws the same drill runs against your deployment (pilotlight
deploy): the fault is the outage switch — a deny-all inline policy on the
primary region's function roles — taken off afterwards, also when the drill
is interrupted (Ctrl-C). Clients follow the active record to each region's
function URL with signed requests. Detection takes the deployed profile's
alarm: about 3-4 minutes with free, under a minute with fast.

` + scenario.Help() + `  all                  every scenario in turn, then a table (make chaos)
Only region-outage and no-fault run with --target aws.

With --app NAME the drill runs on your own application, protected with
pilotlight protect apply (PILOTLIGHT_PROTECT_DIR keeps the plan): the
workload writes its items to its table (--app-table, default the plan's
first) in the routed region
— through the guard package when its tier is epoch-guard, plainly when it
is routing-only — and RPO, failback loss and split brain are counted from
that table. The tier's promise is printed with the report: breaches it does
not promise against (routing only) are measured and shown, not failures.
Only region-outage and no-fault run with --app.

Every drill keeps its report in PILOTLIGHT_REPORTS_DIR (.pilotlight/reports/
<time>-<scenario>/report.json and report.html); ` + "`pilotlight history`" + ` lists
them. RTO and RPO are held to PILOTLIGHT_RTO_OBJECTIVE and
PILOTLIGHT_RPO_OBJECTIVE (lab 15s and 1s, AWS 10m and 1m): a drill that misses
one fails. The report holds RTO with its breakdown (detection, decision,
fencing, promotion, verification, routing), RPO (acknowledged writes the DR
region did not have at takeover, and the seconds they cover), failback loss,
and writes acknowledged by a fenced region. Exit status 1 when failover did
not happen, failback lost a write, or a fenced region acknowledged a write.`

func newDrillCmd(g *globals) *cobra.Command {
	o := drill.Options{}
	var name, reportPath string
	var jsonOut bool
	var app appFlags
	c := &cobra.Command{
		Use:   "drill",
		Short: "Run a disaster-recovery drill and measure RTO and RPO",
		Long:  drillLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			if err := app.apply(s.ProtectDir, &o); err != nil {
				return err
			}
			o.Scenario = report.Scenario(name)
			check := o
			if name == "all" {
				check.Scenario = scenario.RegionOutage
			}
			if err := scenario.Check(check); err != nil {
				if errors.Is(err, scenario.ErrUnknownScenario) {
					return fmt.Errorf("%w, or all", err)
				}
				return err
			}
			progress := g.io.Err
			if jsonOut {
				progress = io.Discard
			}
			o.RTOObjective, o.RPOObjective = s.RTOObjective, s.RPOObjective
			if s.Target == config.TargetAWS {
				if !cmd.Flags().Changed("timeout") {
					o.Timeout = 10 * time.Minute // a free-profile alarm takes minutes
				}
			} else if err := g.startLab(cmd, g, s, progress); err != nil {
				return err
			}
			t, err := g.connect(cmd, s)
			if err != nil {
				return err
			}
			defer t.Close()
			env := drill.Env{Target: t, Progress: progress}
			if name == "all" {
				return drillAll(cmd, g, env, o, s.ReportsDir, jsonOut)
			}
			rep, err := scenario.Run(cmd.Context(), env, o)
			if err != nil {
				return err
			}
			saved, err := report.History{Dir: s.ReportsDir}.Save(rep)
			if err != nil {
				return err
			}
			if reportPath != "" {
				if err := report.WriteFiles(rep, reportPath, strings.TrimSuffix(reportPath, filepath.Ext(reportPath))+".html"); err != nil {
					return err
				}
			}
			if jsonOut {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				g.io.Out.Write(append(b, '\n'))
			} else {
				report.PrintSummary(g.io.Out, rep)
				fmt.Fprintf(g.io.Out, "\nreport: %s (and report.html beside it); `pilotlight history` lists every drill\n", saved.JSON)
				if s.Target != config.TargetAWS {
					fmt.Fprintln(g.io.Out, "the lab is still running: `pilotlight lab status` to look at it, `pilotlight lab down` to stop it")
				}
			}
			if !rep.Pass {
				return exitError(1)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&name, "scenario", string(scenario.RegionOutage), "which drill (see above), or all")
	f.DurationVar(&o.FaultFor, "fault-for", 30*time.Second, "how long chaos scenarios keep their fault")
	f.IntVar(&o.Rate, "rate", 50, "workload writes per second")
	f.IntVar(&o.Concurrency, "concurrency", 8, "workload clients")
	f.DurationVar(&o.Steady, "steady", 5*time.Second, "workload before the fault")
	f.DurationVar(&o.After, "after", 5*time.Second, "workload in the DR region before healing")
	f.DurationVar(&o.Timeout, "timeout", 60*time.Second, "bound on each wait (failover, fence, routing)")
	f.StringVar(&reportPath, "report", "", "also write the report here (report.html beside it); every drill is kept in PILOTLIGHT_REPORTS_DIR anyway")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON instead of the summary")
	f.StringVar(&app.name, "app", "", "drill your application protected by protect apply (its name), not the orders service")
	f.StringVar(&app.table, "app-table", "", "with --app: the table the workload writes (default: the plan's first)")
	f.StringVar(&app.item, "app-item", "", `with --app: the item written, DynamoDB JSON with {{id}} and {{n}} for each write's id and number (default: the table's key alone), e.g. '{"user":{"S":"{{id}}"},"line":{"N":"{{n}}"},"sku":{"S":"drill"}}'`)
	return c
}

// drillAll runs every scenario (the application's, with --app) in turn,
// keeps each report, and prints the chaos table; exit 1 if one failed.
func drillAll(cmd *cobra.Command, g *globals, env drill.Env, o drill.Options, reportsDir string, jsonOut bool) error {
	var reps []*report.Report
	all := scenario.Scenarios
	if o.App != nil {
		all = scenario.AppScenarios
	}
	for _, sc := range all {
		o.Scenario = sc
		rep, err := scenario.Run(cmd.Context(), env, o)
		if err != nil {
			return fmt.Errorf("%s: %w", sc, err)
		}
		reps = append(reps, rep)
		saved, err := report.History{Dir: reportsDir}.Save(rep)
		if err != nil {
			return err
		}
		if !jsonOut {
			fmt.Fprintf(g.io.Err, "%s: %s (%s)\n", sc, map[bool]string{true: "PASS", false: "FAIL"}[rep.Pass], saved.JSON)
		}
	}
	if jsonOut {
		b, _ := json.MarshalIndent(reps, "", "  ")
		g.io.Out.Write(append(b, '\n'))
	} else {
		report.PrintChaosTable(g.io.Out, reps)
	}
	for _, r := range reps {
		if !r.Pass {
			return exitError(1)
		}
	}
	return nil
}

// appFlags are drill's --app, --app-table and --app-item.
type appFlags struct{ name, table, item string }

// apply sets o.App from the plan protect apply applied for the named
// application.
func (a appFlags) apply(dir string, o *drill.Options) error {
	if a.name == "" {
		if a.table != "" || a.item != "" {
			return codedError{2, errors.New("--app-table and --app-item go with --app NAME")}
		}
		return nil
	}
	p, table, err := appTable(dir, a.name, a.table)
	if err != nil {
		return err
	}
	o.App = &drill.App{Name: p.App, Table: table, Item: a.item, Tier: string(p.Tier), Promise: p.Promise}
	return nil
}

// appTable is an application's applied plan and one of its tables: the
// one named, which the plan must protect, or the plan's first.
func appTable(dir, app, table string) (protect.Plan, string, error) {
	p, err := protect.AppliedPlan(dir, app)
	if err != nil {
		return p, "", withCode(2, err)
	}
	if table == "" {
		if len(p.Inventory.Tables) == 0 {
			return p, "", codedError{2, fmt.Errorf("application %s protects no table (protect a table first)", app)}
		}
		return p, p.Inventory.Tables[0].Name, nil
	}
	if !slices.ContainsFunc(p.Inventory.Tables, func(t inventory.Table) bool { return t.Name == table }) {
		return p, "", codedError{2, fmt.Errorf("--app-table %s: application %s does not protect it (its plan's tables: %v)", table, app, p.Inventory.TableNames())}
	}
	return p, table, nil
}

// ensureLab starts the lab (fetching what it needs) when none is running
// in s.LabDir; a lab left behind by a dead supervisor is cleaned up first.
func ensureLab(cmd *cobra.Command, g *globals, s config.Settings, progress io.Writer) error {
	if _, err := remote.Connect(s.LabDir); err == nil {
		return nil
	}
	if _, serr := remote.Stop(s.LabDir); serr == nil {
		fmt.Fprintln(progress, "cleaned up a lab left behind")
	}
	if _, err := server.Ensure(cmd.Context(), s.CacheDir, progress); err != nil {
		return err
	}
	if err := lab.CheckFunctions(s.FunctionsDir); err != nil {
		return err
	}
	_, err := spawnSupervisor(cmd.Context(), g, s)
	return err
}
