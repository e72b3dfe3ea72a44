package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target"
)

// lambdaPlane is a target with a Lambda control plane (AWS, and the lab
// when it runs functions): checked here, once.
type lambdaPlane interface {
	Lambda(region string) *lambda.Client
}

// autoScaling is a target with Application Auto Scaling (AWS; the lab's
// provisioned tables have none): checked here, once.
type autoScaling interface {
	AutoScaling(region string) *applicationautoscaling.Client
}

// replicator is a target that replicates a user's tables and buckets
// itself (the lab): what protect apply needs there, checked here, once.
type replicator interface {
	Replicate(ctx context.Context, a lab.Adopted) error
	StopReplicating(ctx context.Context, a lab.Adopted) error
}

// protectSource is what protect scans on t: the primary region's data
// planes, its Lambda control plane if the target has one, and never
// pilotlight's own resources.
func protectSource(t target.Target) protect.Source {
	c := t.Clients()[t.Primary()]
	src := protect.Source{Primary: t.Primary(), DR: t.DR(), DynamoDB: c.DynamoDB, S3: c.S3}
	if l, ok := t.(lambdaPlane); ok {
		src.Lambda = l.Lambda(t.Primary())
	}
	if a, ok := t.(autoScaling); ok {
		src.AutoScaling = a.AutoScaling(t.Primary())
	}
	app := t.Names().App
	src.Exclude = func(name string) bool { return name == app || strings.HasPrefix(name, app+"-") }
	return src
}

type selectorFlags struct {
	prefix string
	tags   []string
	names  []string
}

func (s *selectorFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&s.prefix, "prefix", "", "the application's resources are those whose names start with this")
	f.StringArrayVar(&s.tags, "tag", nil, "and carry this tag (KEY=VALUE; repeatable)")
	f.StringArrayVar(&s.names, "name", nil, "and are named so (repeatable)")
}

func (s *selectorFlags) selector() (protect.Selector, error) {
	sel := protect.Selector{Prefix: s.prefix, Names: s.names}
	for _, t := range s.tags {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return sel, codedError{2, fmt.Errorf("--tag %q: write KEY=VALUE", t)}
		}
		if sel.Tags == nil {
			sel.Tags = map[string]string{}
		}
		sel.Tags[k] = v
	}
	return sel, nil
}

func newProtectCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "protect",
		Short: "Adopt your own tables, buckets and functions for DR (scan, plan)",
		Long: `Protect an application of your own — not the orders service — with the
same pilot light: its tables become global tables with a replica in the DR
region, its buckets replicate there, its functions get DR copies at the
pilot-light minimum (idle, so they cost nothing until a failover routes to
them; a guarded copy refuses writes until the DR region holds the lease).

  scan   inventory of the primary region, filtered to your application, and
         a preflight per resource: what blocks DR, and the fix
  plan   a reviewable plan — steps, the fencing tier your application gets
         and exactly what it promises, the CloudFormation — that changes
         nothing, identified by a hash
  apply  applies an approved plan (its hash); in the lab: tables, buckets
         and functions' DR copies; on AWS not yet (the plan's
         CloudFormation is what it will apply)
  remove undoes apply; your tables, buckets and data are never touched

Then drill it: pilotlight drill --app NAME (RTO, RPO and failback loss
counted from your own table, with the tier's promise printed).

Fencing tiers, weakest first (docs/protect.md):
  routing-only  traffic moves; RPO is not bounded and a failback may lose
                writes the old region acknowledged
  kill-switch   the fenced side's functions are stopped (reserved
                concurrency 0, event-source mappings off)
  epoch-guard   every write goes through the guard package
                (github.com/pilotlight/pilotlight/guard): no split brain,
                no acknowledged write lost on failback

In the lab, create your resources in the primary region with any SDK or the
AWS CLI (eval "$(pilotlight lab env)"): tables, buckets, and functions
built for the provided.al2023 runtime (a Go function's bootstrap, zipped),
with their function URLs.`,
		Example: `  pilotlight protect scan --prefix shop-
  pilotlight protect plan --prefix shop- --app shop --out shop-plan.json
  pilotlight protect plan --tag app=shop --app shop --guarded shop-api --output json`,
	}
	c.AddCommand(newProtectScanCmd(g), newProtectPlanCmd(g), newProtectApplyCmd(g), newProtectRemoveCmd(g))
	return c
}

func newProtectScanCmd(g *globals) *cobra.Command {
	var sel selectorFlags
	var jsonOut bool
	c := &cobra.Command{
		Use:   "scan",
		Short: "Inventory your application in the primary region and check what blocks DR",
		Long: `Inventory the resources the filter picks in the primary region — tables (key
schema, indexes, stream, billing, encryption, TTL, PITR), buckets
(versioning, encryption, lifecycle, replication), functions (runtime,
architecture, URL, event sources, environment names, role) — and run the
preflight on each: a blocker stops a plan until you fix it (the fix is
printed); a change is something the plan will do to your resource; a note
is worth knowing. It changes nothing.

Exit status: 0 no blockers, 1 blockers found, 2 could not scan.`,
		Example: `  pilotlight protect scan --prefix shop-
  pilotlight protect scan --tag app=shop --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := sel.selector()
			if err != nil {
				return err
			}
			t, err := resolveTarget(g, cmd)
			if err != nil {
				return withCode(2, err)
			}
			defer t.Close()
			inv, err := protect.Scan(cmd.Context(), protectSource(t), s)
			if err != nil {
				return withCode(2, err)
			}
			if jsonOut {
				if err := writeJSON(g.io.Out, inv); err != nil {
					return err
				}
			} else {
				protect.WriteInventory(g.io.Out, inv)
			}
			if inv.Blockers() > 0 {
				return exitError(1)
			}
			return nil
		},
	}
	sel.add(c)
	c.Flags().BoolVar(&jsonOut, "json", false, "print the inventory as JSON")
	return c
}

// planOptions reads protect plan's choices: the tier, the guarded
// functions, the replica keys (NAME=ARN).
func planOptions(app, tier string, guarded []string, allGuarded bool, keys []string) (protect.Options, error) {
	o := protect.Options{App: app, Guarded: guarded, AllGuarded: allGuarded, ReplicaKeys: map[string]string{}}
	if tier != "" {
		var err error
		if o.Tier, err = protect.ParseTier(tier); err != nil {
			return o, codedError{2, err}
		}
	}
	for _, k := range keys {
		name, arn, ok := strings.Cut(k, "=")
		if !ok || name == "" || !strings.HasPrefix(arn, "arn:") {
			return o, codedError{2, fmt.Errorf("--replica-key %q: write NAME=ARN (the KMS key in the DR region for that table or bucket)", k)}
		}
		o.ReplicaKeys[name] = arn
	}
	return o, nil
}

// writePlan writes the plan as JSON to path, making its folder.
func writePlan(path string, p protect.Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// protectPlanLong is protect plan --help.
var protectPlanLong = `Scan, then write the plan: every step in order (those that change a
resource of yours are marked), what protect remove would undo, the fencing
tier your application gets and what it promises — never more than it can
keep — and the CloudFormation of the stacks it adds. Nothing is changed.

The tier is the strongest your application allows unless --tier asks for a
weaker one: epoch-guard needs every function found to write through the
guard package (name them with --guarded; where functions cannot be listed,
--all-guarded states it, and the plan says it rests on your word);
kill-switch needs functions to stop; routing-only is left otherwise.

The plan is written to --out (default .pilotlight/protect/<app>-<hash>.json)
with its hash, which apply will require.

--arc FILE also writes it as an ARC Region switch plan (CloudFormation,
AWS::ARCRegionSwitch::Plan) for teams already on ARC: per region, a
custom-Lambda step that runs pilotlight's planned failover (skipped by ARC
in an ungraceful run: pilotlight's own detection and lease fence without
it), then the Route 53 routing step (--hosted-zone, --record).`

func newProtectPlanCmd(g *globals) *cobra.Command {
	var (
		sel        selectorFlags
		app, tier  string
		out, asFmt string
		arcOut     string
		zone, rec  string
		guarded    []string
		allGuarded bool
		keys       []string
	)
	c := &cobra.Command{
		Use:   "plan",
		Short: "Write a reviewable plan to protect your application (changes nothing)",
		Long:  protectPlanLong,
		Example: `  pilotlight protect plan --prefix shop- --app shop
  pilotlight protect plan --prefix shop- --app shop --tier routing-only
  pilotlight protect plan --tag app=shop --app shop --guarded shop-api --guarded shop-worker
  pilotlight protect plan --prefix shop- --app shop --replica-key shop-carts=arn:aws:kms:us-west-2:111122223333:key/…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := sel.selector()
			if err != nil {
				return err
			}
			o, err := planOptions(app, tier, guarded, allGuarded, keys)
			if err != nil {
				return err
			}
			if asFmt != "text" && asFmt != "json" {
				return codedError{2, fmt.Errorf("--output %q: use text or json", asFmt)}
			}
			t, err := resolveTarget(g, cmd)
			if err != nil {
				return withCode(2, err)
			}
			defer t.Close()
			o.ControlTable = t.Names().ControlTable()
			inv, err := protect.Scan(cmd.Context(), protectSource(t), s)
			if err != nil {
				return withCode(2, err)
			}
			p, err := protect.MakePlan(inv, o)
			if err != nil {
				return codedError{1, err}
			}
			if out == "" {
				st, err := g.settings(cmd)
				if err != nil {
					return err
				}
				out = filepath.Join(st.ProtectDir, app+"-"+p.Hash+".json")
			}
			if err := writePlan(out, p); err != nil {
				return err
			}
			if arcOut != "" {
				b, err := protect.ARCTemplate(p, protect.ARC{Controller: t.Names().Function(region.FnController), HostedZoneID: zone, RecordName: rec})
				if err != nil {
					return err
				}
				if err := os.WriteFile(arcOut, append(b, '\n'), 0o644); err != nil {
					return err
				}
			}
			if asFmt == "json" {
				return writeJSON(g.io.Out, p)
			}
			p.WriteText(g.io.Out)
			fmt.Fprintf(g.io.Out, "\nWritten to %s. Review it, then apply it with:\n  pilotlight protect apply --plan %s --approve %s\n", out, out, p.Hash)
			if arcOut != "" {
				fmt.Fprintf(g.io.Out, "ARC Region switch plan (CloudFormation) written to %s\n", arcOut)
			}
			return nil
		},
	}
	sel.add(c)
	f := c.Flags()
	f.StringVar(&app, "app", "", "your application's name: it names the stacks the plan adds (required)")
	f.StringVar(&tier, "tier", "", "fencing tier: routing-only, kill-switch or epoch-guard (default: the strongest allowed)")
	f.StringArrayVar(&guarded, "guarded", nil, "a function that writes through the guard package (repeatable)")
	f.BoolVar(&allGuarded, "all-guarded", false, "every writer of the tables uses the guard package (where functions cannot be listed)")
	f.StringArrayVar(&keys, "replica-key", nil, "NAME=ARN: the DR region's KMS key for a table or bucket with a customer managed key")
	f.StringVar(&out, "out", "", "where the plan is written (default .pilotlight/protect/<app>-<hash>.json)")
	f.StringVar(&asFmt, "output", "text", "what is printed: text or json")
	f.StringVar(&arcOut, "arc", "", "also write the plan as an ARC Region switch plan (AWS::ARCRegionSwitch::Plan) to this file")
	f.StringVar(&zone, "hosted-zone", "", "with --arc: the Route 53 hosted zone of the routing step")
	f.StringVar(&rec, "record", "", "with --arc: the record name of the routing step")
	_ = c.MarkFlagRequired("app")
	return c
}

func newProtectApplyCmd(g *globals) *cobra.Command {
	var planFile, approve string
	c := &cobra.Command{
		Use:   "apply",
		Short: "Apply an approved plan (lab: tables and buckets)",
		Long: `Apply a plan written by protect plan, approved by its hash.

In the lab, each table of the plan gets its stream (NEW_AND_OLD_IMAGES), a
replica in the DR region with the same keys and indexes, the lab's
replicator serving it both ways (as a global table), and the items already
there copied to the replica (none overwritten). Each bucket gets
versioning, a versioned replica bucket <bucket>-<dr region> in the DR
region, the lab's object replicator serving the pair (as a replication
rule, and back during a failback), and apply waits until the objects
already there are in the replica. Every step is idempotent: running apply
again resumes an interrupted one. Each function gets its DR copy — its
code downloaded from the primary, the same configuration, environment
and tags, tagged pilotlight:copy-of, and its URL if it has one; a guarded
function and its copy get PILOTLIGHT_CONTROL_TABLE and the lease, which
guard.ConfigFromEnv reads. The kill-switch tier is refused (its switch at
a failover is not built yet), and so is applying on AWS, before anything
changes.

The applied plan is kept in PILOTLIGHT_PROTECT_DIR: drill --app NAME reads
it.

Check the result with: pilotlight validate --table NAME`,
		Example: `  pilotlight protect plan --name shop-carts --app shop --out plan.json
  pilotlight protect apply --plan plan.json --approve 3f2a…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onLab(g, cmd, planFile, func(p protect.Plan, lt protect.LabTarget) error {
				if err := protect.ApplyLab(cmd.Context(), p, approve, lt); err != nil {
					return err
				}
				st, err := g.settings(cmd)
				if err != nil {
					return err
				}
				if err := writeApplied(st.ProtectDir, p); err != nil {
					return err
				}
				fmt.Fprintf(g.io.Out, "Applied plan %s: %d table(s) and %d bucket(s) replicated %s → %s.\nCheck with: pilotlight validate --table NAME\nDrill it with: pilotlight drill --app %s\n",
					p.Hash, len(p.Inventory.Tables), len(p.Inventory.Buckets), p.Primary, p.DR, p.App)
				return nil
			})
		},
	}
	planFlags(c, &planFile, &approve)
	return c
}

// planFlags are --plan and --approve, both required: the plan file and the
// hash that approves it.
func planFlags(c *cobra.Command, planFile, approve *string) {
	c.Flags().StringVar(planFile, "plan", "", "the plan file protect plan wrote (required)")
	c.Flags().StringVar(approve, "approve", "", "the plan's hash, as protect plan printed it: your approval (required)")
	_ = c.MarkFlagRequired("plan")
	_ = c.MarkFlagRequired("approve")
}

// onLab reads the plan file, connects, and runs f with the lab's side of
// apply and remove; f's error exits 1, the others 2.
func onLab(g *globals, cmd *cobra.Command, planFile string, f func(protect.Plan, protect.LabTarget) error) error {
	p, err := readPlan(planFile)
	if err != nil {
		return err
	}
	t, err := resolveTarget(g, cmd)
	if err != nil {
		return withCode(2, err)
	}
	defer t.Close()
	lt, err := labTarget(g, t, planFile)
	if err != nil {
		return err
	}
	if err := f(p, lt); err != nil {
		return codedError{1, err}
	}
	return nil
}

// appliedPath is where apply keeps the plan it applied (in
// PILOTLIGHT_PROTECT_DIR): what drill --app reads.
func appliedPath(dir, app string) string { return filepath.Join(dir, app+".applied.json") }

func writeApplied(dir string, p protect.Plan) error { return writePlan(appliedPath(dir, p.App), p) }

// appliedPlan reads the plan applied for app, naming the fix when there
// is none.
func appliedPlan(dir, app string) (protect.Plan, error) {
	p, err := readPlan(appliedPath(dir, app))
	if errors.Is(err, os.ErrNotExist) {
		return p, fmt.Errorf("no application %q is protected here (%s is not there): pilotlight protect scan → plan → apply first", app, appliedPath(dir, app))
	}
	return p, err
}

// readPlan reads a plan file protect plan wrote.
func readPlan(path string) (protect.Plan, error) {
	var p protect.Plan
	b, err := os.ReadFile(path)
	if err != nil {
		return p, codedError{2, fmt.Errorf("--plan: %w", err)}
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, codedError{2, fmt.Errorf("%s is not a plan written by protect plan: %w", path, err)}
	}
	return p, nil
}

// labTarget is what apply and remove change in the lab; a target that
// cannot replicate tables and buckets itself (AWS, for now) is refused,
// naming what to do instead.
func labTarget(g *globals, t target.Target, planFile string) (protect.LabTarget, error) {
	r, ok := t.(replicator)
	if !ok {
		return protect.LabTarget{}, codedError{2, fmt.Errorf("protect apply and remove on this target are not built yet: review the plan's CloudFormation (%s) and the steps it lists; the lab applies tables and buckets", planFile)}
	}
	cl := t.Clients()
	p, dr := cl[t.Primary()], cl[t.DR()]
	lt := protect.LabTarget{Primary: t.Primary(), DR: t.DR(), PrimaryDB: p.DynamoDB, DRDB: dr.DynamoDB, PrimaryS3: p.S3, DRS3: dr.S3,
		Replicate:       func(ctx context.Context, a protect.Replicated) error { return r.Replicate(ctx, lab.Adopted(a)) },
		StopReplicating: func(ctx context.Context, a protect.Replicated) error { return r.StopReplicating(ctx, lab.Adopted(a)) },
		Say:             func(f string, a ...any) { fmt.Fprintf(g.io.Err, f+"\n", a...) },
		Lease:           lab.LeaseConfig}
	if l, ok := t.(lambdaPlane); ok {
		lt.PrimaryLambda, lt.DRLambda = l.Lambda(t.Primary()), l.Lambda(t.DR())
	}
	return lt, nil
}

func newProtectRemoveCmd(g *globals) *cobra.Command {
	var planFile, approve string
	var deleteReplicas bool
	c := &cobra.Command{
		Use:   "remove",
		Short: "Undo protect apply (your tables, buckets and their data are never touched)",
		Long: `Undo what protect apply added for a plan (approved by its hash again): in
the lab, each table and bucket stops being replicated. Their copies in the
DR region are kept unless --delete-replicas; the tables and buckets in the
primary region, yours, and their data are never touched (streams and
versioning stay on). Idempotent.`,
		Example: `  pilotlight protect remove --plan plan.json --approve 3f2a…
  pilotlight protect remove --plan plan.json --approve 3f2a… --delete-replicas`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onLab(g, cmd, planFile, func(p protect.Plan, lt protect.LabTarget) error {
				if err := protect.RemoveLab(cmd.Context(), p, approve, lt, deleteReplicas); err != nil {
					return err
				}
				st, err := g.settings(cmd)
				if err != nil {
					return err
				}
				if err := os.Remove(appliedPath(st.ProtectDir, p.App)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				fmt.Fprintf(g.io.Out, "Removed plan %s: %d table(s) and %d bucket(s) no longer replicated.\n", p.Hash, len(p.Inventory.Tables), len(p.Inventory.Buckets))
				return nil
			})
		},
	}
	planFlags(c, &planFile, &approve)
	c.Flags().BoolVar(&deleteReplicas, "delete-replicas", false, "also delete the replicas in the DR region (copies apply made)")
	return c
}
