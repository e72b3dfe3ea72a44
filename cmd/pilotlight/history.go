package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/report"
)

func newHistoryCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "history",
		Short: "List past drills (kept reports) and failovers (the control journal)",
		Long: `List every drill kept in PILOTLIGHT_REPORTS_DIR, with its RTO, RPO, failback
loss and verdict, and every failover the control journal records (when the
lab runs, or on AWS). ` + "`pilotlight report ID`" + ` shows one drill.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			entries, err := report.History{Dir: s.ReportsDir}.List()
			if err != nil {
				return err
			}
			runs, jerr := journalRuns(cmd, g)
			entries = append(entries, report.FailoverEntries(runs)...)
			out := struct {
				Entries      []report.Entry `json:"entries"`
				JournalError string         `json:"journal_error,omitempty"`
			}{Entries: entries}
			if jerr != nil {
				out.JournalError = jerr.Error()
			}
			if jsonOut {
				return writeJSON(g.io.Out, out)
			}
			if len(entries) == 0 {
				fmt.Fprintf(g.io.Out, "no drills in %s yet: run `pilotlight drill`\n", s.ReportsDir)
			} else {
				w := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "WHEN\tKIND\tID\tRESULT\tRTO\tRPO\tFAILBACK LOSS\tDETAIL")
				for _, e := range entries {
					res, rto, rpo, fb := "-", "-", "-", "-"
					if e.Pass != nil {
						res = map[bool]string{true: "PASS", false: "FAIL"}[*e.Pass]
					}
					if e.RTOSeconds > 0 {
						rto = fmt.Sprintf("%.2fs", e.RTOSeconds)
					}
					if e.RPOWrites != nil {
						rpo = fmt.Sprintf("%d writes", *e.RPOWrites)
					}
					if e.FailbackLost != nil {
						fb = fmt.Sprint(*e.FailbackLost)
					}
					when := "-"
					if !e.At.IsZero() {
						when = g.local(e.At).Format("2006-01-02 15:04:05")
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", when, e.Kind, e.ID, res, rto, rpo, fb, e.Detail)
				}
				w.Flush()
			}
			if jerr != nil {
				fmt.Fprintf(g.io.Err, "failovers: the control journal was not read (%v)\n", jerr)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the history as JSON")
	return c
}

// journalRuns reads every run from the control journals the target has,
// the first region that answers for each epoch.
func journalRuns(cmd *cobra.Command, g *globals) (map[int64][]record.Entry, error) {
	t, err := resolveTarget(g, cmd)
	if err != nil {
		return nil, err
	}
	fc, err := t.Controller(cmd.Context())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
	defer cancel()
	return fc.Runs(ctx)
}

func newReportCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "report [ID]",
		Short: "Show one kept drill report (the latest without an ID)",
		Long: `Show a drill's report as its summary, with where its report.json and
report.html are (open the page in a browser; it needs no network). IDs are
what ` + "`pilotlight history`" + ` lists.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			r, saved, err := report.History{Dir: s.ReportsDir}.Load(id)
			if err != nil {
				return err
			}
			if jsonOut {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return err
				}
				_, err = g.io.Out.Write(append(b, '\n'))
				return err
			}
			report.PrintSummary(g.io.Out, r)
			fmt.Fprintf(g.io.Out, "\nreport %s: %s, page %s\n", saved.ID, saved.JSON, saved.HTML)
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print the report as JSON")
	return c
}
