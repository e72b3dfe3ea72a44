package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/target"
)

// streams are a command's I/O, passed in so output can be tested.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// globals are the flags every command shares.
type globals struct {
	io         streams
	environ    []string
	envFile    string
	target     string
	primary    string
	dr         string
	witness    string
	awsProfile string
	verbose    bool
	// region is the per-command --region: the one region a command acts
	// on (lab fault, lab env, backup), never a role.
	region string
	// backupApp and backupAppTable are backup's --app and --app-table: a
	// protected application's table instead of pilotlight's.
	backupApp, backupAppTable string
	warned                    bool
	// connect builds the target a command acts on from resolved settings:
	// connectTarget in the program, a fake in the commands' tests.
	connect func(cmd *cobra.Command, s config.Settings) (target.Target, error)
	// startLab makes sure the lab is running before a drill connects to it,
	// starting it (and fetching what it needs) when it is not: ensureLab
	// in the program, nothing in the commands' tests.
	startLab func(cmd *cobra.Command, g *globals, s config.Settings, progress io.Writer) error
}

// roleFlags map the flags that name settings to their settings.
var roleFlags = []struct{ flag, env string }{
	{"target", "PILOTLIGHT_TARGET"}, {"primary", "PILOTLIGHT_PRIMARY_REGION"}, {"dr", "PILOTLIGHT_DR_REGION"},
	{"witness", "PILOTLIGHT_WITNESS_REGION"}, {"aws-profile", "AWS_PROFILE"},
}

// settings resolves configuration: flags > environment > .env > defaults.
// Unknown PILOTLIGHT_* keys are warned about once, with a "did you mean".
func (g *globals) settings(cmd *cobra.Command) (config.Settings, error) {
	src, err := g.sources(cmd)
	if err != nil {
		return config.Settings{}, err
	}
	if !g.warned {
		g.warned = true
		for _, w := range config.Unknown(src) {
			fmt.Fprintln(g.io.Err, "warning:", w)
		}
	}
	return config.Load(src)
}

func (g *globals) sources(cmd *cobra.Command) (config.Sources, error) {
	src := config.Sources{Flags: map[string]string{}, FlagNames: map[string]string{}, Environ: g.environ, DotenvFile: g.envFile}
	for _, rf := range roleFlags {
		if f := cmd.Flags().Lookup(rf.flag); f != nil && f.Changed {
			src.Flags[rf.env], src.FlagNames[rf.env] = f.Value.String(), "--"+rf.flag
		}
	}
	b, err := os.ReadFile(g.envFile)
	switch {
	case err == nil:
		if src.Dotenv, src.DotenvLines, err = config.ParseDotenvLines(g.envFile, b); err != nil {
			return src, err
		}
	case errors.Is(err, os.ErrNotExist) && !cmd.Flags().Changed("env-file"):
	default:
		return src, fmt.Errorf("read %s: %w", g.envFile, err)
	}
	src.Home, _ = os.UserHomeDir()
	return src, nil
}

// local is t in the time zone of the command's environment: its TZ when
// set (so a test can fix it without changing time.Local under running
// goroutines), else the process's.
func (g *globals) local(t time.Time) time.Time {
	for _, kv := range g.environ {
		if tz, ok := strings.CutPrefix(kv, "TZ="); ok {
			if loc, err := time.LoadLocation(tz); err == nil {
				return t.In(loc)
			}
		}
	}
	return t.Local()
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(g.io.Err, &slog.HandlerOptions{Level: level}))
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "pilotlight",
		Short: "Pilot-light disaster recovery for DynamoDB + S3 + Lambda, with measured RTO and RPO",
		Long: `pilotlight keeps a disaster-recovery region warm for a serverless application
(DynamoDB, S3, Lambda), fails over when the primary region fails, fails back
without losing an acknowledged write, and measures RTO and RPO every time.

It runs against a local two-region lab by default (no AWS account needed):

  pilotlight lab up        start the lab (DynamoDB Local + versitygw per region)
  pilotlight lab status    see both regions, faults and replication
  pilotlight lab fault cut --region us-east-1
                           take the primary region off the network
  pilotlight lab down      stop it

  pilotlight drill         a region-outage drill with its RTO/RPO report
  pilotlight validate      prove both regions hold the same data
  pilotlight backup ...    snapshots, restores, restore tests, retention

On AWS (--target aws, or PILOTLIGHT_TARGET=aws):

  pilotlight deploy --dry-run   the plan and what it costs
  pilotlight deploy             the DR and primary stacks
  pilotlight --target aws drill the same drill against your deployment
  pilotlight cleanup            remove everything deploy created

Settings come from flags, then the environment, then .env, then defaults;
see .env.example for every setting. --primary, --dr and --witness name the
regions' roles; a command's --region names the one region it acts on.

Exit codes: 0 ok; 1 a check failed (drill, validate, status); 2 could not
run (bad flags or settings, unknown command, target unreachable). With
--json, errors are JSON too: {"error": "...", "exit_code": 2}.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(g.io.In)
	root.SetOut(g.io.Out)
	root.SetErr(g.io.Err)
	pf := root.PersistentFlags()
	pf.StringVar(&g.envFile, "env-file", ".env", "settings file (KEY=VALUE lines)")
	pf.StringVar(&g.target, "target", "lab", "where to run: lab or aws (PILOTLIGHT_TARGET)")
	pf.StringVar(&g.primary, "primary", "us-east-1", "primary region (PILOTLIGHT_PRIMARY_REGION; AWS_DEFAULT_REGION only when that is unset)")
	pf.StringVar(&g.dr, "dr", "us-west-2", "disaster-recovery region (PILOTLIGHT_DR_REGION)")
	pf.StringVar(&g.witness, "witness", "us-east-2", "witness region, holding the third control record, or none (PILOTLIGHT_WITNESS_REGION)")
	pf.StringVar(&g.awsProfile, "aws-profile", "", "named AWS profile for --target aws (AWS_PROFILE)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.AddCommand(newDrillCmd(g), newFailoverCmd(g), newFailbackCmd(g), newStatusCmd(g), newValidateCmd(g), newBackupCmd(g), newDeployCmd(g), newCleanupCmd(g), newPackageCmd(g), newLabCmd(g), newVersionCmd(g), newHistoryCmd(g), newReportCmd(g), newCheckCmd(g), newDashboardCmd(g), newProtectCmd(g))
	guardGroups(root)
	return root
}

// noArgsGroup lets a group command (one with subcommands) see what was typed
// in place of a subcommand, so groupRunE can refuse it.
var noArgsGroup = cobra.ArbitraryArgs

// groupRunE prints a group's help when no subcommand is given, and refuses
// an unknown one with a suggestion (exit 2): `backup verfy` in a cron job
// must not pass.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if sug := cmd.SuggestionsFor(args[0]); len(sug) > 0 {
		msg += fmt.Sprintf(": did you mean %s?", strings.Join(sug, " or "))
	} else {
		var names []string
		for _, sc := range cmd.Commands() {
			if sc.IsAvailableCommand() {
				names = append(names, sc.Name())
			}
		}
		msg += ": use one of " + strings.Join(names, ", ")
	}
	return codedError{2, fmt.Errorf("%s (see %s --help)", msg, cmd.CommandPath())}
}

// guardGroups makes every group command refuse unknown subcommands.
func guardGroups(c *cobra.Command) {
	for _, sc := range c.Commands() {
		guardGroups(sc)
	}
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil && c.HasParent() {
		c.Args, c.RunE = noArgsGroup, groupRunE
	}
	c.SuggestionsMinimumDistance = 2
}

// Exit codes, one scheme for every command (and in --help):
//
//	0  ok
//	1  a check failed: a drill, validate, readiness, status that cannot read a record
//	2  could not run: bad flags or settings, an unknown command, an unreachable target
func run(ctx context.Context, args []string, io streams, environ []string) int {
	return execute(ctx, &globals{io: io, environ: environ, connect: connectTarget, startLab: ensureLab}, args)
}

// execute runs the command line args with g (its streams, environment and
// connect), and returns the exit code.
func execute(ctx context.Context, g *globals, args []string) int {
	io := g.io
	root := newRoot(g)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var exit exitError
	if errors.As(err, &exit) && err == error(exit) {
		return int(exit) // the command already said why
	}
	code := 2
	var coded codedError
	if errors.As(err, &coded) {
		code = coded.code
	}
	if cmd != nil {
		if f := cmd.Flags().Lookup("json"); f != nil && f.Changed {
			_ = writeJSON(io.Out, map[string]any{"error": err.Error(), "exit_code": code})
			return code
		}
	}
	fmt.Fprintln(io.Err, "error:", err)
	return code
}

// exitError carries a specific exit code.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// codedError is an error to print with a specific exit code.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

// withCode gives err (when not nil and not already an exit status) the code.
func withCode(code int, err error) error {
	var exit exitError
	if err == nil || errors.As(err, &exit) {
		return err
	}
	return codedError{code, err}
}

// version is set by the build (-ldflags "-X main.version=…").
var version = "dev"

func newVersionCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if jsonOut {
				return writeJSON(g.io.Out, map[string]string{"version": version})
			}
			fmt.Fprintln(g.io.Out, "pilotlight", version)
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the version as JSON")
	return c
}
