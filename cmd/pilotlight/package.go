package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/deploy"
)

func newPackageCmd(g *globals) *cobra.Command {
	var arch, out string
	var jsonOut bool
	c := &cobra.Command{
		Use:   "package",
		Short: "Build and zip the functions for Lambda (provided.al2023), reproducibly",
		Long: `Build every function as a bootstrap for linux/arm64 (provided.al2023) and zip
it reproducibly: the same source gives the same bytes and the same sha256, so
an unchanged function is never redeployed. Run from the repository root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat("lambda"); err != nil {
				return errors.New("no lambda/ directory here: run `pilotlight package` from the repository root")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			arts, err := deploy.Package(ctx, ".", arch, out)
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(g.io.Out, arts)
			}
			w := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "FUNCTION\tZIP\tBYTES\tSHA256")
			for _, a := range arts {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", a.Function, a.Path, a.Bytes, a.SHA256)
			}
			return w.Flush()
		},
	}
	c.Flags().StringVar(&arch, "arch", "arm64", "GOARCH of the functions (Lambda: arm64 or amd64)")
	c.Flags().StringVar(&out, "out", "dist", "directory for the zips")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the artifacts as JSON")
	return c
}
