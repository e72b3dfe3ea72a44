package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/target"
	"github.com/pilotlight/pilotlight/internal/validate"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// regionIn returns the clients of a region named by --region, or of def.
func regionIn(t target.Target, name, def string) (*region.Clients, error) {
	if name == "" {
		name = def
	}
	c, ok := t.Clients()[name]
	if !ok {
		return nil, codedError{2, fmt.Errorf("--region %s: not one of this deployment's regions (%s, %s)", name, t.Primary(), t.DR())}
	}
	return c, nil
}

// validatorFor compares the target's orders table (and buckets, with
// objects) — or a table of the user's (protect apply: any key schema, no
// bucket).
func validatorFor(t target.Target, table string, objects bool) *validate.Validator {
	cl := t.Clients()
	if table != "" {
		return &validate.Validator{Primary: validate.TableSide(cl[t.Primary()], table), DR: validate.TableSide(cl[t.DR()], table)}
	}
	return &validate.Validator{Primary: validate.SideFor(cl[t.Primary()], t.Names(), objects), DR: validate.SideFor(cl[t.DR()], t.Names(), objects)}
}

// readPartials reads and merges the partial digests --segment-range wrote.
func readPartials(files []string) (*validate.Partial, error) {
	var parts []*validate.Partial
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var p validate.Partial
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: not a partial written by --segment-range --out: %w", f, err)
		}
		parts = append(parts, &p)
	}
	return validate.MergePartials(parts)
}

// printValidation prints the report (JSON or text); exit 1 when the
// regions differ.
func printValidation(g *globals, rep *verdict.Report, jsonOut bool) error {
	if jsonOut {
		if err := writeJSON(g.io.Out, rep); err != nil {
			return err
		}
	} else {
		rep.Print(g.io.Out)
	}
	if !rep.Clean() {
		return exitError(1)
	}
	return nil
}

// validateLong is validate --help.
var validateLong = `Compare the protected table and bucket of the two regions.

Both tables are scanned in parallel segments; every item is put in a
canonical form (attribute order, number spelling such as 1, 1.0 and 1e0,
set order do not matter; types, nested values and list order do) and folded
into per-bucket digests. Only buckets whose digests differ are compared item
by item. Differences are read again once the settle window has passed since
the scan, so replication in flight is not called divergence. Objects are
compared by key, current ETag and the ETags of every version.

Replication stamps (pilotlight:rep:*, aws:rep:*) and probe canaries
(_canary*) are not data and are ignored.

Exit status: 0 clean, 1 divergent beyond the settle window, 2 could not run.

Tables too big for one machine in time: scan segment ranges separately
(--segments 64 --segment-range 0-15 --out part-0.json, ...) and finish with
--merge part-*.json; or let the data-validator function do it with
--fan-out 4 (four invocations in parallel, then one to compare; in the lab
and on AWS).`

func newValidateCmd(g *globals) *cobra.Command {
	var (
		jsonOut, noObjects bool
		segments, buckets  int
		samples, fanOut    int
		settle             time.Duration
		segRange, out      string
		table              string
		merge              []string
	)
	var runValidate func(*cobra.Command) error
	c := &cobra.Command{
		Use:   "validate",
		Short: "Prove the DR region holds the primary's data (exit 1 if not)",
		Long:  validateLong,
		Example: `  pilotlight validate
  pilotlight validate --json --settle 10s
  pilotlight validate --segments 16 --segment-range 0-7 --out a.json
  pilotlight validate --segments 16 --segment-range 8-15 --out b.json
  pilotlight validate --merge a.json,b.json
  pilotlight validate --fan-out 4
  pilotlight validate --table shop-carts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCode(2, runValidate(cmd))
		},
	}
	runValidate = func(cmd *cobra.Command) error {
		t, err := resolveTarget(g, cmd)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		v := validatorFor(t, table, !noObjects)
		v.Segments, v.Buckets, v.Settle, v.Samples = segments, buckets, settle, samples
		if settle == 0 {
			v.Settle = -1
		}
		if segRange != "" {
			seg, err := validate.ParseSegmentRange(segRange, segments)
			if err != nil {
				return err
			}
			p, err := v.Digest(ctx, seg)
			if err != nil {
				return err
			}
			return writeJSONFile(g, out, p)
		}
		var rep *verdict.Report
		switch {
		case len(merge) > 0:
			p, err := readPartials(merge)
			if err != nil {
				return err
			}
			if rep, err = v.Compare(ctx, p); err != nil {
				return err
			}
		case fanOut > 0:
			pr := startProgress(g, jsonOut, fmt.Sprintf("validating in %d invocations", fanOut))
			rep, err = validate.FanOut(ctx, func(ctx context.Context, req []byte) ([]byte, error) {
				return t.Invoke(ctx, t.DR(), region.FnValidator, req)
			},
				fanOut, segments, buckets, settle, noObjects, func(done, total int) { pr.Say("%d of %d segments scanned", done, total) })
			pr.Done()
			if err != nil {
				return err
			}
		default:
			pr := startProgress(g, jsonOut, "comparing both regions item by item")
			rep, err = v.Run(ctx)
			pr.Done()
			if err != nil {
				return err
			}
		}
		return printValidation(g, rep, jsonOut)
	}
	f := c.Flags()
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	f.BoolVar(&noObjects, "no-objects", false, "compare the tables only, not the buckets")
	f.IntVar(&segments, "segments", 8, "parallel-scan segments per table")
	f.IntVar(&buckets, "buckets", 4096, "digest buckets (memory is proportional to this, not to the item count)")
	f.IntVar(&samples, "samples", 10, "sample keys listed per finding")
	f.DurationVar(&settle, "settle", 5*time.Second, "replication allowance: differences are read again after it (0: report as scanned)")
	f.StringVar(&segRange, "segment-range", "", "scan only segments first-last of --segments and write partial digests (see --out, --merge)")
	f.StringVar(&out, "out", "-", "where --segment-range writes its partial digests (- for stdout)")
	f.StringSliceVar(&merge, "merge", nil, "merge partial digest files (comma separated) and compare")
	f.StringVar(&table, "table", "", "compare this table of yours instead of the orders table (any key schema; no bucket)")
	f.IntVar(&fanOut, "fan-out", 0, "split the scan across this many invocations of the data-validator function in the DR region")
	c.MarkFlagsMutuallyExclusive("segment-range", "merge", "fan-out")
	c.MarkFlagsMutuallyExclusive("table", "fan-out")
	return c
}

func writeJSONFile(g *globals, path string, v any) error {
	if path == "-" || path == "" {
		return writeJSON(g.io.Out, v)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func newBackupCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "backup",
		Short: "Snapshots of the protected table (or a protected application's): create, list, restore, verify, prune",
		Long: `Logical snapshots of the protected table in the DynamoDB export format
(gzipped DynamoDB-JSON lines) with a manifest (item count, digest, source
region, time, active epoch), written to the region's backup bucket, which
replicates to the DR region. So a snapshot of the primary can be restored in
the DR region when the primary is gone: pass --region <dr region>.

On AWS, native on-demand backups and point-in-time recovery are there too
(backup create --native); DynamoDB Local has neither,
and says so.

--app NAME works on an application protect apply adopted instead: its
table (--app-table, default its plan's first), snapshotted into the same
backup bucket under snapshots/<table>/. The scheduled backup manager takes
pilotlight's own table only: snapshot an application's from your own
schedule (or turn on its point-in-time recovery).`,
		Example: `  pilotlight backup create
  pilotlight backup create --app shop --app-table shop-carts
  pilotlight backup list --app shop
  pilotlight backup restore --app shop --table shop-carts-restored`,
	}
	c.PersistentFlags().StringVar(&g.backupApp, "app", "", "an application protect apply adopted: back up its table instead")
	c.PersistentFlags().StringVar(&g.backupAppTable, "app-table", "", "with --app: which of its tables (default: its plan's first)")
	c.AddCommand(newBackupCreateCmd(g), newBackupListCmd(g), newBackupRestoreCmd(g), newBackupVerifyCmd(g), newBackupPruneCmd(g))
	return c
}

func managerFor(g *globals, cmd *cobra.Command, in string) (target.Target, *backup.Manager, error) {
	t, err := resolveTarget(g, cmd)
	if err != nil {
		return nil, nil, err
	}
	c, err := regionIn(t, in, t.Primary())
	if err != nil {
		return nil, nil, err
	}
	m := backup.ForDeployment(c, t.Names())
	if g.backupApp != "" || g.backupAppTable != "" {
		if g.backupApp == "" {
			return nil, nil, codedError{2, errors.New("--app-table goes with --app NAME")}
		}
		s, err := g.settings(cmd)
		if err != nil {
			return nil, nil, err
		}
		if _, m.Table, err = appTable(s.ProtectDir, g.backupApp, g.backupAppTable); err != nil {
			return nil, nil, err
		}
	}
	return t, m, nil
}

func newBackupCreateCmd(g *globals) *cobra.Command {
	var jsonOut, native bool
	c := &cobra.Command{
		Use:   "create",
		Short: "Take a snapshot of the protected table",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, m, err := managerFor(g, cmd, g.region)
			if err != nil {
				return err
			}
			if native {
				arn, err := m.Native(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(g.io.Out, "on-demand backup started: %s\n", arn)
				return nil
			}
			pr := startProgress(g, jsonOut, "taking a snapshot")
			m.Progress = pr.Say
			man, err := m.Create(cmd.Context())
			pr.Done()
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(g.io.Out, man)
			}
			fmt.Fprintf(g.io.Out, "snapshot %s: %d items of %s in %s, %d files, %.1fs (%.0f items/s)\n  s3://%s/snapshots/%s/%s/\n  digest %s\n",
				man.ID, man.ItemCount, man.Table, man.SourceRegion, len(man.Files), man.Seconds, float64(man.ItemCount)/max(man.Seconds, 0.001),
				m.Bucket, man.Table, man.ID, man.Digest)
			return nil
		},
	}
	regionFlag(c, g, "region whose table to snapshot (default: the primary)")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the manifest as JSON")
	c.Flags().BoolVar(&native, "native", false, "take a native DynamoDB on-demand backup instead (AWS only)")
	return c
}

func newBackupListCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List snapshots in a region's backup bucket, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, m, err := managerFor(g, cmd, g.region)
			if err != nil {
				return err
			}
			list, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(g.io.Out, list)
			}
			if len(list) == 0 {
				fmt.Fprintf(g.io.Out, "no snapshots of %s in s3://%s\n", m.Table, m.Bucket)
				return nil
			}
			w := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SNAPSHOT\tCREATED\tITEMS\tFROM\tEPOCH\tSTATE")
			for _, s := range list {
				if s.Manifest == nil {
					fmt.Fprintf(w, "%s\t%s\t-\t-\t-\tincomplete (no manifest)\n", s.ID, s.Created.Format(time.RFC3339))
					continue
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\tcomplete\n", s.ID, s.Created.Format(time.RFC3339), s.Manifest.ItemCount, s.Manifest.SourceRegion, s.Manifest.Epoch)
			}
			w.Flush()
			if on, since, err := m.PITR(cmd.Context()); err == nil {
				if on {
					fmt.Fprintf(g.io.Out, "\npoint-in-time recovery: on, restorable from %s\n", since.Format(time.RFC3339))
				} else {
					fmt.Fprintln(g.io.Out, "\npoint-in-time recovery: off")
				}
			} else if errors.Is(err, backup.ErrUnsupported) {
				fmt.Fprintln(g.io.Out, "\npoint-in-time recovery: not in the lab (DynamoDB Local has none)")
			}
			return nil
		},
	}
	regionFlag(c, g, "region whose backup bucket to list (default: the primary)")
	c.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return c
}

func newBackupRestoreCmd(g *globals) *cobra.Command {
	var snapshot, table string
	var force, jsonOut, yes bool
	c := &cobra.Command{
		Use:   "restore",
		Short: "Restore a snapshot into a named table",
		Long: `Create --table in the region --region names and fill it from a snapshot (the
newest complete one unless --snapshot is given). The restored table is then
scanned and its item count and digest checked against the manifest.

An existing table is never overwritten without --force (which deletes it
first). If the restore fails after the table was created — a corrupt or
truncated file, a lost connection — the table is deleted, so a half-filled
table is never left looking complete. Replication stamps are stripped.`,
		Example: `  pilotlight backup restore --table orders-restored
  pilotlight backup restore --region us-west-2 --snapshot 20261126T110102.123Z-1a2b --table orders-copy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, m, err := managerFor(g, cmd, g.region)
			if err != nil {
				return err
			}
			if force {
				if err := confirm(g, yes, fmt.Sprintf("restore deletes table %s first if it exists", table), "pass --yes with --force"); err != nil {
					return err
				}
			}
			pr := startProgress(g, jsonOut, "restoring "+snapshot)
			m.Progress = pr.Say
			res, err := m.Restore(cmd.Context(), backup.RestoreOptions{ID: snapshot, Table: table, Force: force})
			pr.Done()
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(g.io.Out, res)
			}
			fmt.Fprintf(g.io.Out, "restored %s into %s in %s: %d items, digest matches the manifest, %.1fs (%.0f items/s)\n",
				res.Snapshot, res.Table, res.Region, res.Items, res.Seconds, float64(res.Items)/max(res.Seconds, 0.001))
			return nil
		},
	}
	regionFlag(c, g, "region to restore in, from its backup bucket (default: the primary)")
	c.Flags().StringVar(&snapshot, "snapshot", "latest", "snapshot ID (see backup list)")
	c.Flags().StringVar(&table, "table", "", "table to create and fill (required)")
	c.Flags().BoolVar(&force, "force", false, "delete --table first if it exists (asks first, or --yes)")
	c.Flags().BoolVar(&yes, "yes", false, "do not ask before --force deletes a table")
	c.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	_ = c.MarkFlagRequired("table")
	return c
}

func newBackupVerifyCmd(g *globals) *cobra.Command {
	var snapshot string
	var jsonOut bool
	c := &cobra.Command{
		Use:   "verify",
		Short: "Restore test: restore into a scratch table, check it, drop it (exit 1 on failure)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, m, err := managerFor(g, cmd, g.region)
			if err != nil {
				return err
			}
			pr := startProgress(g, jsonOut, "restore-testing "+snapshot)
			m.Progress = pr.Say
			v, err := m.Verify(cmd.Context(), snapshot)
			pr.Done()
			if err != nil {
				return err
			}
			if jsonOut {
				if err := writeJSON(g.io.Out, v); err != nil {
					return err
				}
			} else if v.Passed {
				fmt.Fprintf(g.io.Out, "PASS: snapshot %s restored in %s into %s: %d of %d items, digest matches; scratch table dropped (%.1fs)\n",
					v.Snapshot, v.Region, v.ScratchTable, v.Restored, v.Expected, v.Seconds)
			} else {
				fmt.Fprintf(g.io.Out, "FAIL: snapshot %s does not restore in %s: %s\n", v.Snapshot, v.Region, v.Error)
			}
			if !v.Passed {
				return exitError(1)
			}
			return nil
		},
	}
	regionFlag(c, g, "region to test the restore in (default: the primary)")
	c.Flags().StringVar(&snapshot, "snapshot", "latest", "snapshot ID")
	c.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return c
}

func newBackupPruneCmd(g *globals) *cobra.Command {
	var maxAge string
	var keep int
	var dryRun, jsonOut, yes bool
	c := &cobra.Command{
		Use:   "prune",
		Short: "Apply retention: keep the newest --keep, drop older than --max-age",
		Long: `Remove snapshots beyond the newest --keep (0: no count limit) and older than
--max-age (days like 30d or a duration like 12h; 0: no age limit). The newest
complete snapshot is always kept. Snapshots a crashed run left without a
manifest go once they are an hour old. Every object version is deleted, not
hidden behind a delete marker. --dry-run shows what would go.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			age, err := config.ParseAge(maxAge)
			if err != nil {
				return fmt.Errorf("--max-age: %w", err)
			}
			_, m, err := managerFor(g, cmd, g.region)
			if err != nil {
				return err
			}
			if !dryRun {
				if err := confirm(g, yes, fmt.Sprintf("prune deletes every version of the snapshots beyond the newest %d and older than %s", keep, maxAge), "pass --yes (or --dry-run to see what would go)"); err != nil {
					return err
				}
			}
			res, err := m.Prune(cmd.Context(), backup.Retention{Keep: keep, MaxAge: age, DryRun: dryRun})
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(g.io.Out, res)
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			var ids []string
			for _, s := range res.Removed {
				ids = append(ids, s.ID)
			}
			fmt.Fprintf(g.io.Out, "%s %d snapshot(s), kept %d\n", verb, len(res.Removed), len(res.Kept))
			if len(ids) > 0 {
				fmt.Fprintf(g.io.Out, "  %s\n", strings.Join(ids, "\n  "))
			}
			return nil
		},
	}
	regionFlag(c, g, "region whose backup bucket to prune (default: the primary)")
	c.Flags().IntVar(&keep, "keep", 7, "snapshots to keep (0: no count limit)")
	c.Flags().StringVar(&maxAge, "max-age", "30d", "drop snapshots older than this (0d: no age limit)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be removed")
	c.Flags().BoolVar(&yes, "yes", false, "do not ask before deleting snapshots")
	c.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return c
}
