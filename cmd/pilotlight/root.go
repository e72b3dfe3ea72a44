package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/config"
)

// streams are a command's I/O, passed in so output can be tested.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// globals are the flags every command shares.
type globals struct {
	io      streams
	environ []string
	envFile string
	target  string
	primary string
	dr      string
	verbose bool
	// regionIsTarget: in lab commands that act on one region, --region names
	// that region rather than overriding the primary.
	regionIsTarget bool
}

// settings resolves configuration: flags > environment > .env > defaults.
func (g *globals) settings(cmd *cobra.Command) (config.Settings, error) {
	flags := map[string]string{}
	set := func(name, env, v string) {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			flags[env] = v
		}
	}
	set("target", "PILOTLIGHT_TARGET", g.target)
	if !g.regionIsTarget {
		set("region", "AWS_DEFAULT_REGION", g.primary)
	}
	set("dr-region", "AWS_DR_REGION", g.dr)
	var dotenv map[string]string
	b, err := os.ReadFile(g.envFile)
	switch {
	case err == nil:
		if dotenv, err = config.ParseDotenv(g.envFile, b); err != nil {
			return config.Settings{}, err
		}
	case errors.Is(err, os.ErrNotExist) && !cmd.Flags().Changed("env-file"):
	default:
		return config.Settings{}, fmt.Errorf("read %s: %w", g.envFile, err)
	}
	home, _ := os.UserHomeDir()
	return config.Load(config.Sources{Flags: flags, Environ: g.environ, Dotenv: dotenv, Home: home})
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
see .env.example for every setting.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(g.io.In)
	root.SetOut(g.io.Out)
	root.SetErr(g.io.Err)
	pf := root.PersistentFlags()
	pf.StringVar(&g.envFile, "env-file", ".env", "settings file (KEY=VALUE lines)")
	pf.StringVar(&g.target, "target", "lab", "where to run: lab or aws (PILOTLIGHT_TARGET)")
	pf.StringVar(&g.primary, "region", "us-east-1", "primary region (AWS_DEFAULT_REGION)")
	pf.StringVar(&g.dr, "dr-region", "us-west-2", "disaster-recovery region (AWS_DR_REGION)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.AddCommand(newDrillCmd(g), newFailoverCmd(g), newFailbackCmd(g), newStatusCmd(g), newValidateCmd(g), newBackupCmd(g), newDeployCmd(g), newCleanupCmd(g), newPackageCmd(g), newLabCmd(g), newVersionCmd(g))
	return root
}

func run(ctx context.Context, args []string, io streams, environ []string) int {
	g := &globals{io: io, environ: environ}
	root := newRoot(g)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var exit exitError
		if errors.As(err, &exit) && err == error(exit) {
			return int(exit) // the command already said why
		}
		fmt.Fprintln(io.Err, "error:", err)
		var coded codedError
		if errors.As(err, &coded) {
			return coded.code
		}
		return 1
	}
	return 0
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
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(g.io.Out, "pilotlight", version)
		},
	}
}
