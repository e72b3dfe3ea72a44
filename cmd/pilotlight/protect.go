package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/replication"
	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/apply"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target"
	"github.com/pilotlight/pilotlight/internal/target/awstarget"
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
	Replicate(ctx context.Context, a replication.Adopted) error
	StopReplicating(ctx context.Context, a replication.Adopted) error
}

// protectSource is what protect scans on t: the primary region's data
// planes, its Lambda control plane if the target has one, and never
// pilotlight's own resources.
func protectSource(t target.Target) inventory.Source {
	c := t.Clients()[t.Primary()]
	src := inventory.Source{Primary: t.Primary(), DR: t.DR(), DynamoDB: c.DynamoDB, S3: c.S3}
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

func (s *selectorFlags) selector() (inventory.Selector, error) {
	sel := inventory.Selector{Prefix: s.prefix, Names: s.names}
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
		Short: "Adopt your own tables, buckets and functions for DR (scan, plan, apply, remove)",
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
  apply  applies an approved plan (its hash), resumable: replicas,
         replication, the functions' DR copies (lab or AWS)
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
			inv, err := inventory.Scan(cmd.Context(), protectSource(t), s)
			if err != nil {
				return withCode(2, err)
			}
			if jsonOut {
				if err := writeJSON(g.io.Out, inv); err != nil {
					return err
				}
			} else {
				inventory.WriteInventory(g.io.Out, inv)
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
			inv, err := inventory.Scan(cmd.Context(), protectSource(t), s)
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
			if err := protect.WritePlan(out, p); err != nil {
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
		Short: "Apply an approved plan: replicas, replication, DR copies (lab or AWS)",
		Long: `Apply a plan written by protect plan, approved by its hash. Every step
reads what is there first: running apply again resumes an interrupted one
and changes nothing twice.

On AWS, in this order:
  tables     stream on (NEW_AND_OLD_IMAGES); the replica in the DR region
             (UpdateTable), waited for until ACTIVE — DynamoDB copies the
             items already there; then the stack <app>-protect-<primary>
             imports the tables as AWS::DynamoDB::GlobalTable with
             DeletionPolicy Retain (an import change set of the tables
             alone) and is updated to add the replication roles
  buckets    the stack <app>-protect-<dr> makes the versioned replica
             buckets; versioning on; pilotlight's rule pilotlight-<app>
             added beside the bucket's own (a bucket replicating as another
             role is refused: S3 runs all rules as one role); the objects
             already there copied by S3 Batch Replication, waited for
  functions  the DR copy through the Lambda API: the code downloaded from
             the primary, the same configuration, tags and environment
             (values copied here, never written into the plan), tagged
             pilotlight:copy-of, and its URL; a guarded function and its
             copy get PILOTLIGHT_CONTROL_TABLE and the deployed lease, which
             guard.ConfigFromEnv reads

In the lab, the same for functions (through the lab's Lambda); each table
gets its replica with the same keys and indexes and the lab's replicator
serving it both ways, the items already there copied (none overwritten);
each bucket gets versioning, its replica <bucket>-<dr region> and the
lab's object replicator serving the pair, and apply waits until the
objects already there are in the replica.

The kill-switch tier is refused with functions (its switch at a failover
is not built yet), before anything changes.

The applied plan is kept in PILOTLIGHT_PROTECT_DIR: drill --app NAME reads
it.

Check the result with: pilotlight validate --table NAME`,
		Example: `  pilotlight protect plan --name shop-carts --app shop --out plan.json
  pilotlight protect apply --plan plan.json --approve 3f2a…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onTarget(g, cmd, planFile, func(p protect.Plan, ap applier) error {
				if err := ap.apply(cmd.Context(), p, approve); err != nil {
					return err
				}
				st, err := g.settings(cmd)
				if err != nil {
					return err
				}
				if err := protect.WriteApplied(st.ProtectDir, p); err != nil {
					return err
				}
				fmt.Fprintf(g.io.Out, "Applied plan %s: %d table(s) and %d bucket(s) replicated %s → %s, %d function(s) copied.\nCheck with: pilotlight validate --table NAME\nDrill it with: pilotlight drill --app %s\n",
					p.Hash, len(p.Inventory.Tables), len(p.Inventory.Buckets), p.Primary, p.DR, len(p.Inventory.Functions), p.App)
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

// applier applies and removes a plan on one target: the lab's replicators
// and Lambda, or AWS's global tables, replication and stacks.
type applier struct {
	apply  func(ctx context.Context, p protect.Plan, approved string) error
	remove func(ctx context.Context, p protect.Plan, approved string, deleteReplicas bool) error
}

// deployment is a target that knows its deployment (AWS): the lease its
// guarded functions are given.
type deployment interface {
	Deployment(ctx context.Context) (failover.Deployment, config.FunctionEnv, error)
}

// planApplier is the applier of t: the lab (a replicator), or AWS (an
// account, whose deployed lease the guard is given); checked here, once.
func planApplier(ctx context.Context, g *globals, t target.Target) (applier, error) {
	say := func(f string, a ...any) { fmt.Fprintf(g.io.Err, f+"\n", a...) }
	if r, ok := t.(replicator); ok {
		lt := labTarget(t, r, say)
		return applier{
			apply: func(ctx context.Context, p protect.Plan, approved string) error {
				return apply.Lab(ctx, p, approved, lt)
			},
			remove: func(ctx context.Context, p protect.Plan, approved string, del bool) error {
				return apply.RemoveLab(ctx, p, approved, lt, del)
			}}, nil
	}
	a, ok := t.(awsAccount)
	d, deployed := t.(deployment)
	if !ok || !deployed || a.AWSAccount() == nil {
		return applier{}, codedError{2, errors.New("protect apply and remove run in the lab or on AWS: this target is neither")}
	}
	_, env, err := d.Deployment(ctx)
	if err != nil {
		return applier{}, withCode(2, fmt.Errorf("protect apply gives guarded functions the deployment's control table and lease, and could not read them: %w (deploy pilotlight first: pilotlight deploy)", err))
	}
	at := awsTarget(t, a.AWSAccount(), env.Lease, say, g.io.Out)
	return applier{
		apply: func(ctx context.Context, p protect.Plan, approved string) error {
			return apply.AWS(ctx, p, approved, at)
		},
		remove: func(ctx context.Context, p protect.Plan, approved string, del bool) error {
			return apply.RemoveAWS(ctx, p, approved, at, del)
		}}, nil
}

// onTarget reads the plan file, connects, and runs f with the target's
// applier; f's error exits 1, the others 2.
func onTarget(g *globals, cmd *cobra.Command, planFile string, f func(protect.Plan, applier) error) error {
	p, err := readPlan(planFile)
	if err != nil {
		return err
	}
	t, err := resolveTarget(g, cmd)
	if err != nil {
		return withCode(2, err)
	}
	defer t.Close()
	ap, err := planApplier(cmd.Context(), g, t)
	if err != nil {
		return err
	}
	if err := f(p, ap); err != nil {
		return codedError{1, err}
	}
	return nil
}

// readinessApps are the applications applied here, as check reads them
// on t: their tables, buckets with their replicas, functions with t's
// Lambda if it has one.
func readinessApps(dir string, t target.Target) ([]readiness.App, error) {
	plans, err := protect.Applied(dir, t.Primary(), t.DR())
	if err != nil {
		return nil, err
	}
	var lc map[string]readiness.FunctionReader
	if l, ok := t.(lambdaPlane); ok {
		if p, d := l.Lambda(t.Primary()), l.Lambda(t.DR()); p != nil && d != nil {
			lc = map[string]readiness.FunctionReader{t.Primary(): p, t.DR(): d}
		}
	}
	var out []readiness.App
	for _, p := range plans {
		a := readiness.App{Name: p.App, Tier: string(p.Tier), Tables: p.Inventory.TableNames(), Buckets: map[string]string{},
			Functions: p.Inventory.FunctionNames(), Lambda: lc}
		for _, b := range p.Inventory.BucketNames() {
			a.Buckets[b] = protect.ReplicaName(b, p.DR)
		}
		out = append(out, a)
	}
	return out, nil
}

// readPlan reads the --plan file.
func readPlan(path string) (protect.Plan, error) {
	p, err := protect.ReadPlan(path)
	if err != nil {
		return p, codedError{2, fmt.Errorf("--plan: %w", err)}
	}
	return p, nil
}

// labTarget is what apply and remove change in the lab.
func labTarget(t target.Target, r replicator, say func(string, ...any)) apply.LabTarget {
	cl := t.Clients()
	p, dr := cl[t.Primary()], cl[t.DR()]
	lt := apply.LabTarget{Primary: t.Primary(), DR: t.DR(), PrimaryDB: p.DynamoDB, DRDB: dr.DynamoDB, PrimaryS3: p.S3, DRS3: dr.S3,
		Replicate: func(ctx context.Context, a apply.Replicated) error { return r.Replicate(ctx, replication.Adopted(a)) },
		StopReplicating: func(ctx context.Context, a apply.Replicated) error {
			return r.StopReplicating(ctx, replication.Adopted(a))
		},
		Say: say, Lease: lab.LeaseConfig}
	if l, ok := t.(lambdaPlane); ok {
		lt.PrimaryLambda, lt.DRLambda = l.Lambda(t.Primary()), l.Lambda(t.DR())
	}
	return lt
}

// awsTarget is what apply and remove change on AWS.
func awsTarget(t target.Target, a *awstarget.Account, lease control.LeaseConfig, say func(string, ...any), out io.Writer) apply.AWSTarget {
	cl := t.Clients()
	p, dr := cl[t.Primary()], cl[t.DR()]
	at := apply.AWSTarget{Primary: t.Primary(), DR: t.DR(), Account: a.ID, PrimaryDB: p.DynamoDB, PrimaryS3: p.S3, DRS3: dr.S3,
		Stacks: &deploy.Stacks{Client: a.CloudFormation, Out: out}, Lease: lease, Say: say,
		Batch: s3control.NewFromConfig(a.Config(), func(o *s3control.Options) { o.Region = t.Primary() })}
	if l, ok := t.(lambdaPlane); ok {
		at.PrimaryLambda, at.DRLambda = l.Lambda(t.Primary()), l.Lambda(t.DR())
	}
	return at
}

func newProtectRemoveCmd(g *globals) *cobra.Command {
	var planFile, approve string
	var deleteReplicas bool
	c := &cobra.Command{
		Use:   "remove",
		Short: "Undo protect apply (your tables, buckets, functions and data are never touched)",
		Long: `Undo what protect apply added for a plan (approved by its hash again).

Each function's DR copy is deleted (only a function tagged as pilotlight's
copy of it) and the guard's variables are taken off yours. Each bucket
loses pilotlight's replication rule (its own rules are kept); in the lab
the replicators stop. On AWS the plan's stacks are deleted: the tables
and replica buckets in them are retained (DeletionPolicy Retain), the
roles go.

The copies in the DR region — tables' replicas, replica buckets — are kept
unless --delete-replicas. The tables, buckets and functions in the primary
region, yours, and their data are never deleted (streams and versioning
stay on). Idempotent.`,
		Example: `  pilotlight protect remove --plan plan.json --approve 3f2a…
  pilotlight protect remove --plan plan.json --approve 3f2a… --delete-replicas`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onTarget(g, cmd, planFile, func(p protect.Plan, ap applier) error {
				if err := ap.remove(cmd.Context(), p, approve, deleteReplicas); err != nil {
					return err
				}
				st, err := g.settings(cmd)
				if err != nil {
					return err
				}
				if err := os.Remove(protect.AppliedPath(st.ProtectDir, p.App)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				fmt.Fprintf(g.io.Out, "Removed plan %s: %d table(s) and %d bucket(s) no longer replicated by it, %d function copy(ies) deleted.\n", p.Hash, len(p.Inventory.Tables), len(p.Inventory.Buckets), len(p.Inventory.Functions))
				return nil
			})
		},
	}
	planFlags(c, &planFile, &approve)
	c.Flags().BoolVar(&deleteReplicas, "delete-replicas", false, "also delete the replicas in the DR region (copies apply made)")
	return c
}
