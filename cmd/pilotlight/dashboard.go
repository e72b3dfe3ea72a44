package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/dashboard"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/target"
)

func newDashboardCmd(g *globals) *cobra.Command {
	var addr string
	var every time.Duration
	c := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve a live page: both regions, replication, the failover journal, the last drill",
		Long: `Serve a local web page that shows both regions side by side (control
record, lease, whether each accepts writes, routing health, the lab's
servers and faults), replication backlog and lag, the failover journal as
it happens, the last drill's chart and the drill history. It follows the
target (the lab by default) every --every; open the printed address in a
browser. The page needs no network beyond this machine.

  pilotlight lab up && pilotlight dashboard
  pilotlight drill        # in another terminal: watch the failover happen`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if every <= 0 {
				return fmt.Errorf("--every must be positive, got %s (for example --every 1s)", every)
			}
			s, err := g.settings(cmd)
			if err != nil {
				return err
			}
			t, fc, err := controllerFor(g, cmd)
			if err != nil {
				return err
			}
			srv := &dashboard.Server{Source: &cliSource{t: t, fc: fc, history: report.History{Dir: s.ReportsDir}, protectDir: s.ProtectDir}, Every: every}
			return srv.Serve(cmd.Context(), addr, func(url string) {
				fmt.Fprintf(g.io.Out, "dashboard: %s (Ctrl-C stops)\n", url)
			})
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8765", "address to serve on (host:port; port 0 picks a free one)")
	c.Flags().DurationVar(&every, "every", time.Second, "how often to read the regions")
	return c
}

// cliSource feeds the dashboard from the command's target.
type cliSource struct {
	t          target.Target
	fc         *failover.Controller
	history    report.History
	protectDir string // the protected applications' applied plans

	// The kept reports, read again only when the reports directory changes
	// (a new drill): the page polls every second, and listing reads every
	// report.json.
	mu     sync.Mutex
	listed time.Time
	list   []report.Entry
}

func (c *cliSource) Status(ctx context.Context) (json.RawMessage, error) {
	doc, _, _, err := collectStatus(ctx, c.t, c.fc, c.protectDir)
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

func (c *cliSource) Journal(ctx context.Context) (map[int64][]record.Entry, error) {
	return c.fc.Runs(ctx)
}

func (c *cliSource) History() ([]report.Entry, error) {
	fi, err := os.Stat(c.history.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list == nil || !fi.ModTime().Equal(c.listed) {
		list, err := c.history.List()
		if err != nil {
			return nil, err
		}
		c.list, c.listed = list, fi.ModTime()
		// A drill being saved has its directory before its report: list
		// again next time rather than keep it as unreadable.
		for _, e := range list {
			if strings.HasPrefix(e.Detail, "unreadable") {
				c.list = nil
				return list, nil
			}
		}
	}
	return c.list, nil
}

func (c *cliSource) LastReport() (*report.Report, error) {
	entries, err := c.History()
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	r, _, err := c.history.Load(entries[len(entries)-1].ID)
	return r, err
}
