package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/parity"
	"github.com/pilotlight/pilotlight/internal/lab/remote"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/region"
)

func newLabCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "lab",
		Short: "Run the local two-region lab (no AWS account needed)",
		Long: `The lab behaves like two AWS regions on this machine. Each region has Amazon
DynamoDB Local and a versitygw S3 server, behind a Toxiproxy proxy that can
cut it off or slow it down. Replicators copy table changes both ways (like
DynamoDB global tables, last writer wins) and new object versions from the
primary to the DR region (like S3 replication), with a configurable lag.

The servers are fetched and built once into ~/.cache/pilotlight. State, logs
and data live in .lab/ (PILOTLIGHT_LAB_DIR).`,
	}
	c.AddCommand(newLabUpCmd(g), newLabServeCmd(g), newLabDownCmd(g), newLabStatusCmd(g), newLabEnvCmd(g),
		newLabFaultCmd(g), newLabReplicationCmd(g), newLabFetchCmd(g))
	return c
}

func labOptions(s config.Settings, sv server.Paths, g *globals) lab.Options {
	o := lab.Options{
		Primary: s.PrimaryRegion, DR: s.DRRegion, Witness: s.WitnessRegion, Names: region.Names{App: s.AppName},
		Dir: s.LabDir, Servers: sv, BasePort: s.LabBasePort, Lag: s.ReplicationLag, Logger: g.logger(),
		CheckEnv: parity.Check, Access: parity.Access, Resources: parity.Resources,
	}
	if lab.CheckFunctions(s.FunctionsDir) == nil {
		dir, _ := filepath.Abs(s.FunctionsDir)
		o.Functions = lab.FunctionOptions{Dir: dir, Manual: s.FailoverMode == "manual"}
	}
	return o
}

func newLabFetchCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "fetch",
		Short: "Fetch DynamoDB Local and build versitygw into the cache (done by `lab up` when needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			sv, err := server.Ensure(cmd.Context(), s.CacheDir, g.io.Err)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.io.Out, "DynamoDB Local %s: %s\nversitygw %s: %s\n", server.DynamoDBLocalVersion, sv.DynamoDBDir, server.VersitygwVersion, sv.Versitygw)
			return nil
		},
	}
}

func newLabUpCmd(g *globals) *cobra.Command {
	var foreground, jsonOut bool
	c := &cobra.Command{
		Use:   "up",
		Short: "Start the lab in the background (harmless when it already runs)",
		Long: `Start the lab: fetch its servers on first use, start both regions, create the
protected table, the control tables and the versioned buckets, and start
replication. The lab keeps running in the background until ` + "`pilotlight lab down`" + `.
A lab left behind by a crash is detected and cleaned up first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			st, err := remote.ReadState(s.LabDir)
			switch {
			case err == nil && st.Alive():
				if !jsonOut {
					fmt.Fprintf(g.io.Err, "lab already running (pid %d, since %s)\n", st.Pid, st.Started.Local().Format(time.TimeOnly))
				}
				return printUp(g, st, jsonOut)
			case err == nil || !errors.Is(err, remote.ErrNoLab):
				old, _ := remote.Stop(s.LabDir)
				fmt.Fprintf(g.io.Err, "cleaned up a lab left behind (pid %d no longer runs)\n", old.Pid)
			}
			sv, err := server.Ensure(cmd.Context(), s.CacheDir, g.io.Err)
			if err != nil {
				return err
			}
			if foreground {
				return remote.Serve(cmd.Context(), labOptions(s, sv, g), func(st remote.State) { printUp(g, st, jsonOut) })
			}
			st, err = spawnSupervisor(cmd.Context(), g, s)
			if err != nil {
				return err
			}
			return printUp(g, st, jsonOut)
		},
	}
	c.Flags().BoolVar(&foreground, "foreground", false, "run in the foreground until interrupted")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the lab's endpoints as JSON")
	return c
}

// spawnSupervisor starts `pilotlight lab serve` detached from this terminal
// and waits until it has written its state.
func spawnSupervisor(ctx context.Context, g *globals, s config.Settings) (remote.State, error) {
	self, err := os.Executable()
	if err != nil {
		return remote.State{}, err
	}
	if err := lab.CheckFunctions(s.FunctionsDir); err != nil {
		fmt.Fprintf(g.io.Err, "note: %v — the lab runs without functions, front door or failover\n", err)
	}
	fdir, _ := filepath.Abs(s.FunctionsDir)
	args := []string{"lab", "serve", "--primary", s.PrimaryRegion, "--dr", s.DRRegion, "--witness", s.WitnessRegion}
	if _, err := os.Stat(g.envFile); err == nil {
		args = append(args, "--env-file", g.envFile)
	}
	return remote.Spawn{Program: self, Args: args, Dir: s.LabDir, Progress: g.io.Err,
		Env: append(g.environ, "PILOTLIGHT_LAB_DIR="+s.LabDir, "PILOTLIGHT_CACHE_DIR="+s.CacheDir, "PILOTLIGHT_FUNCTIONS_DIR="+fdir)}.Start(ctx)
}

func printUp(g *globals, st remote.State, jsonOut bool) error {
	if jsonOut {
		return writeJSON(g.io.Out, envJSON(st, ""))
	}
	w := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tROLE\tDYNAMODB\tS3")
	for _, r := range []string{st.Primary, st.DR} {
		role := "primary"
		if r == st.DR {
			role = "dr"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r, role, st.Regions[r].Endpoints.DynamoDB, st.Regions[r].Endpoints.S3)
	}
	w.Flush()
	fmt.Fprintf(g.io.Out, "\nPoint any AWS client at a region:  eval \"$(pilotlight lab env --region %s)\"\n", st.Primary)
	fmt.Fprintf(g.io.Out, "Time scale 1/%d: the templates' periods run %d times faster; tables, buckets, function settings and IAM come from the templates (docs/architecture.md lists the lab's overrides).\n", parity.TimeScale, parity.TimeScale)
	fmt.Fprintln(g.io.Out, "IAM: each function runs as its template role; the lab refuses what the role's policies do not allow (`pilotlight lab status` counts refusals).")
	fmt.Fprintln(g.io.Out, notEmulated)
	return nil
}

func newLabServeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "serve",
		Short:  "Run the lab in the foreground (what `lab up` starts in the background)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			sv, err := server.Find(s.CacheDir)
			if err != nil {
				return err
			}
			return remote.Serve(cmd.Context(), labOptions(s, sv, g), func(st remote.State) {
				fmt.Fprintf(g.io.Out, "lab ready: pid %d, control %s\n", st.Pid, st.Control)
			})
		},
	}
}

func newLabDownCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the lab's processes and remove its state and data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Stopping needs only the lab's directory: a shell with bad
			// region settings must still be able to stop what runs.
			s, err := g.settings(cmd)
			if err != nil && s.LabDir == "" {
				return err
			}
			st, err := remote.Stop(s.LabDir)
			if errors.Is(err, remote.ErrNoLab) {
				fmt.Fprintln(g.io.Err, "no lab running")
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.io.Err, "lab stopped (pid %d and its servers)\n", st.Pid)
			return nil
		},
	}
}

func newLabStatusCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Show both regions: servers, faults, replication lag, paused or not",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := connectLab(g, cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			st, err := cl.Status(ctx)
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(g.io.Out, st)
			}
			printStatus(g.io.Out, cl.State, st)
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print as JSON")
	return c
}

func printStatus(out io.Writer, state remote.State, st lab.Status) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tROLE\tDYNAMODB\tS3\tFAULTS")
	for _, r := range st.Regions {
		role := "primary"
		if r.Name == state.DR {
			role = "dr"
		}
		up := func(svc, ep string) string {
			if r.Up[svc] {
				return "up " + ep
			}
			return "DOWN " + ep
		}
		faults := "-"
		if len(r.Faults) > 0 {
			var fs []string
			for _, f := range r.Faults {
				fs = append(fs, f.String())
			}
			sort.Strings(fs)
			faults = strings.Join(fs, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Name, role, up("dynamodb", r.Endpoints.DynamoDB), up("s3", r.Endpoints.S3), faults)
	}
	if state.WitnessRegion != nil {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", state.Witness, "witness", state.WitnessRegion.Endpoints.DynamoDB, "(control table only)", "-")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "REPLICATION\tDIRECTION\tSTATE\tPENDING\tOLDEST\tLAST LAG\tAPPLIED")
	for _, d := range st.Replication {
		state := "on"
		switch {
		case !d.Enabled:
			state = "off"
		case d.Paused:
			state = "PAUSED"
		case d.LastError != "":
			state = "failing"
		}
		fmt.Fprintf(w, "%s\t%s → %s\t%s\t%d\t%s\t%s\t%d\n", d.Kind, d.From, d.To, state, d.Pending,
			time.Duration(d.OldestPendingMs)*time.Millisecond, time.Duration(d.LastLagMs)*time.Millisecond, d.Applied)
	}
	w.Flush()
	fmt.Fprintf(out, "\nconfigured lag %s; failback object replication %s\n", st.Lag, map[bool]string{true: "on", false: "off"}[st.Failback])
	if a := st.IAM; a != nil {
		fmt.Fprintf(out, "IAM: %d functions run as their template roles; %d requests refused\n", a.Roles, a.Denied)
		if a.LastDenial != "" {
			fmt.Fprintf(out, "  last refused: %s\n  (a refusal is a permission the templates lack: fix the role in cloudformation/)\n", a.LastDenial)
		}
	}
	fmt.Fprintln(out, notEmulated)
	for _, d := range st.Replication {
		if d.LastError != "" {
			fmt.Fprintf(out, "%s %s → %s: %s\n", d.Kind, d.From, d.To, d.LastError)
		}
	}
}

// notEmulated is what the templates deploy that the lab does not emulate,
// and what of IAM it leaves out.
var notEmulated = "Not emulated in the lab: " + strings.Join(parity.NotEmulated(), ", ") +
	" (SNS: notifications go to .lab/notifications.log; Route 53: the front door stands in); " +
	"of IAM, request signatures, session expiry and aws:SecureTransport (lab connections count as TLS). " +
	"DynamoDB Local has no bind option and listens on every interface: keep the lab on a trusted machine (its ports bypass the lab's IAM)."

// regionFlag adds --region, the one region a command acts on.
func regionFlag(c *cobra.Command, g *globals, help string) {
	c.Flags().StringVar(&g.region, "region", "", help)
}

// labRegion checks --region against the running lab's regions.
func labRegion(g *globals, st remote.State) error {
	if g.region == "" {
		return nil
	}
	if _, ok := st.Regions[g.region]; ok {
		return nil
	}
	names := []string{st.Primary, st.DR}
	if st.Witness != "" {
		names = append(names, st.Witness)
	}
	return codedError{2, fmt.Errorf("--region %s: the lab has no such region; it runs %s", g.region, strings.Join(names, ", "))}
}

func newLabEnvCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "env",
		Short: "Print a lab region's endpoints and credentials as shell exports",
		Long: `Print what an AWS client needs to talk to a lab region, as shell exports:

  eval "$(pilotlight lab env --region us-west-2)"
  aws dynamodb scan --table-name pilotlight-orders

--region picks the region (default: the primary).

--json prints every region: {"regions": {"us-east-1": {"dynamodb": URL, "s3": URL}, …}, "credentials": {…}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			regionName := g.region
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			st, err := remote.ReadState(s.LabDir)
			if err != nil {
				return err
			}
			if err := labRegion(g, st); err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(g.io.Out, envJSON(st, regionName))
			}
			if regionName == "" {
				regionName = st.Primary
			}
			r, ok := st.Regions[regionName]
			if !ok {
				return fmt.Errorf("no lab region %q: the lab runs %s and %s", regionName, st.Primary, st.DR)
			}
			fmt.Fprintln(g.io.Out, "# AWS CLI before 2.13 ignores AWS_ENDPOINT_URL_*: pass --endpoint-url \"$AWS_ENDPOINT_URL_DYNAMODB\" (or _S3, _LAMBDA)")
			fmt.Fprintf(g.io.Out, "export AWS_ENDPOINT_URL_DYNAMODB=%s\nexport AWS_ENDPOINT_URL_DYNAMODB_STREAMS=%s\nexport AWS_ENDPOINT_URL_S3=%s\n", r.Endpoints.DynamoDB, r.Endpoints.DynamoDB, r.Endpoints.S3)
			if r.Endpoints.Lambda != "" {
				fmt.Fprintf(g.io.Out, "export AWS_ENDPOINT_URL_LAMBDA=%s\n", r.Endpoints.Lambda)
			}
			// AWS_REGION, not AWS_DEFAULT_REGION: pilotlight reads the latter as
			// its primary region, and a shell that evals this must not change it.
			fmt.Fprintf(g.io.Out, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_REGION=%s\n", st.Credentials.AccessKeyID, st.Credentials.SecretAccessKey, regionName)
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print every region as JSON")
	regionFlag(c, g, "the region whose endpoints to print (default: the primary)")
	return c
}

func envJSON(st remote.State, only string) any {
	regions := map[string]map[string]string{}
	for name, r := range st.Regions {
		if only != "" && name != only {
			continue
		}
		regions[name] = map[string]string{"dynamodb": r.Endpoints.DynamoDB, "s3": r.Endpoints.S3}
		if r.Endpoints.Lambda != "" {
			regions[name]["lambda"] = r.Endpoints.Lambda
		}
	}
	return map[string]any{
		"primary": st.Primary, "dr": st.DR, "regions": regions,
		"credentials": map[string]string{"access_key_id": st.Credentials.AccessKeyID, "secret_access_key": st.Credentials.SecretAccessKey},
	}
}

func newLabFaultCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "fault",
		Short: "Inject or remove a fault: cut a region (or one service), add latency, restore",
		Long: `Inject a fault on a lab region's endpoints, as seen by every client:

  pilotlight lab fault cut --region us-east-1             # the whole region
  pilotlight lab fault cut --region us-east-1 --service s3
  pilotlight lab fault latency --region us-west-2 --latency 250ms
  pilotlight lab fault restore                            # every region

A cut resets every connection at once, so calls fail fast rather than hang.`,
		Args: noArgsGroup,
		RunE: groupRunE,
	}
	var service string
	var latency time.Duration
	serviceFlag := func(c *cobra.Command) {
		c.Flags().StringVar(&service, "service", "all", "the service to act on: dynamodb, s3, lambda or all")
	}
	act := func(use, short string, needRegion bool, do func(ctx context.Context, cl *remote.Client) error) *cobra.Command {
		sc := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if needRegion && g.region == "" {
					return codedError{2, fmt.Errorf("lab fault %s needs --region: the region to act on, e.g. --region us-east-1", use)}
				}
				if err := checkService(service); err != nil {
					return err
				}
				cl, err := connectLab(g, cmd)
				if err != nil {
					return err
				}
				if err := labRegion(g, cl.State); err != nil {
					return err
				}
				if err := do(cmd.Context(), cl); err != nil {
					return err
				}
				fmt.Fprintf(g.io.Err, "%s done\n", use)
				return nil
			}}
		return sc
	}
	cut := act("cut", "Cut a region (or one of its services) off the network", true, func(ctx context.Context, cl *remote.Client) error { return cl.Cut(ctx, g.region, service) })
	serviceFlag(cut)
	regionFlag(cut, g, "the region to cut (required)")
	lat := act("latency", "Add latency to a region's (or one service's) answers", true, func(ctx context.Context, cl *remote.Client) error {
		return cl.AddLatency(ctx, g.region, service, latency)
	})
	serviceFlag(lat)
	regionFlag(lat, g, "the region to slow (required)")
	lat.Flags().DurationVar(&latency, "latency", 200*time.Millisecond, "how much later every answer arrives, e.g. 250ms or 2s")
	restore := act("restore", "Remove every fault (of one region with --region), partitions included", false, func(ctx context.Context, cl *remote.Client) error { return cl.Restore(ctx, g.region) })
	regionFlag(restore, g, "the region to restore (default: every region)")
	c.AddCommand(cut, lat, restore)
	return c
}

func checkService(s string) error {
	switch s {
	case "all", "dynamodb", "s3", "lambda":
		return nil
	}
	return codedError{2, fmt.Errorf("--service %q: use dynamodb, s3, lambda or all", s)}
}

func newLabReplicationCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "replication",
		Short: "Pause or resume replication, set its lag, turn failback object replication on or off",
		Long: `Control the lab's replicators:

  pilotlight lab replication pause          # like FIS "pause replication"
  pilotlight lab replication resume         # catches up, nothing lost
  pilotlight lab replication lag --lag 500ms
  pilotlight lab replication failback-on    # DR → primary object replication`,
		Args: noArgsGroup,
		RunE: groupRunE,
	}
	var lag time.Duration
	act := func(use, short string, do func(ctx context.Context, cl *remote.Client) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cl, err := connectLab(g, cmd)
				if err != nil {
					return err
				}
				if err := do(cmd.Context(), cl); err != nil {
					return err
				}
				fmt.Fprintf(g.io.Err, "replication %s done\n", use)
				return nil
			}}
	}
	lagCmd := act("lag", "Set the delay every replicated change waits", func(ctx context.Context, cl *remote.Client) error { return cl.SetReplicationLag(ctx, lag) })
	lagCmd.Flags().DurationVar(&lag, "lag", 100*time.Millisecond, "the delay, e.g. 500ms (0 to 1h)")
	c.AddCommand(
		act("pause", "Pause replication both ways (reading goes on; resume catches up)", func(ctx context.Context, cl *remote.Client) error { return cl.PauseReplication(ctx) }),
		act("resume", "Resume replication", func(ctx context.Context, cl *remote.Client) error { return cl.ResumeReplication(ctx) }),
		lagCmd,
		act("failback-on", "Turn DR → primary object replication on", func(ctx context.Context, cl *remote.Client) error { return cl.SetFailbackReplication(ctx, true) }),
		act("failback-off", "Turn DR → primary object replication off", func(ctx context.Context, cl *remote.Client) error { return cl.SetFailbackReplication(ctx, false) }),
	)
	return c
}

// connectLab resolves settings and connects to the running lab.
func connectLab(g *globals, cmd *cobra.Command) (*remote.Client, error) {
	s, err := g.settings(cmd)
	if err != nil {
		return nil, err
	}
	return remote.Connect(s.LabDir)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
